"""The runtime: device options (what runs on CUDA by default and on CPU only when asked; the trainer's tests run them) and the DataLoader workers' start."""
import gc
import sys

import pytest
import torch

from workbench.config import TrainConfig
from workbench.runtime import device_options, init_worker


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


class _CollectsInheritedGarbage(torch.utils.data.Dataset):
    """Each item: how many finalizers failed while the worker collected the garbage it was forked with."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        failures = []
        hook, sys.unraisablehook = sys.unraisablehook, lambda raised: failures.append(raised.exc_value)
        try:
            gc.collect()
        finally:
            sys.unraisablehook = hook
        return len(failures)


def _leave_an_iterator_in_a_cycle():
    """A started multi-worker iterator reachable only through a reference cycle: garbage, not yet collected."""
    iterator = iter(torch.utils.data.DataLoader(list(range(4)), num_workers=1))
    next(iterator)
    cycle = {"iterator": iterator}
    cycle["self"] = cycle


@pytest.mark.parametrize("worker_init_fn, failures", [(None, 1), (init_worker, 0)])
def test_workers_never_finalize_an_earlier_loader_they_were_forked_with(worker_init_fn, failures):
    """The "can only test a child process" traceback in a notebook's output: a worker collecting an old
    iterator (None: the failure happens, so the test can tell); ``init_worker`` keeps workers from it."""
    gc.disable()  # the cycle must survive until the next loader forks its worker
    try:
        _leave_an_iterator_in_a_cycle()
        loader = torch.utils.data.DataLoader(_CollectsInheritedGarbage(), num_workers=1, worker_init_fn=worker_init_fn)
        assert sum(int(count) for count in loader) == failures
    finally:
        gc.enable()
        gc.collect()  # the parent finalizes the old iterator, as it should
