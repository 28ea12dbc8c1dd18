"""Device options: what runs on CUDA by default and on CPU only when asked (the trainer's tests run them)."""
import pytest
import torch

from workbench.config import TrainConfig
from workbench.runtime import device_options


def test_device_options_apply_on_cuda_and_on_cpu_only_when_asked():
    cpu = torch.device("cpu")
    plain = device_options(TrainConfig(compile=True), cpu)
    assert (plain.amp_dtype, plain.memory_format, plain.compile, plain.pin_memory) == (None, torch.contiguous_format, False, False)
    accelerated = device_options(TrainConfig(compile=True, accelerate_on_cpu=True), cpu)
    assert (accelerated.amp_dtype, accelerated.memory_format, accelerated.compile) == (torch.bfloat16, torch.channels_last, True)
    assert device_options(TrainConfig(accelerate_on_cpu=True, amp_dtype="float16"), cpu).amp_dtype == torch.float16
    assert device_options(TrainConfig(accelerate_on_cpu=True, amp=False, channels_last=False), cpu) == device_options(TrainConfig(), cpu)
    with pytest.raises(ValueError, match="amp_dtype must be one of"):
        TrainConfig(amp_dtype="fp8")
