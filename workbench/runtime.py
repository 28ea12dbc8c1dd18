"""Where a run executes: the device, its accelerations (AMP, channels_last, compile), RNG states, DDP.

``device_options`` turns a config and a device into ``DeviceOptions``: on CUDA autocast (bf16 where
the GPU has it natively, else fp16), channels_last and optional ``torch.compile``; on CPU plain
float32 unless ``accelerate_on_cpu`` asks for the same options there. ``init_distributed`` joins the
process group ``torchrun`` set up.
"""
from __future__ import annotations

import contextlib
import gc
import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

if TYPE_CHECKING:  # only a type here: prediction imports runtime (inference), never the training config
    from workbench.config import TrainConfig


def check_device(name: str) -> str:
    """``name`` if this machine has that device (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``), else ValueError
    naming it: checked before a checkpoint is read, so a wrong device is never blamed on the file."""
    if name == "auto":
        return name
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available on this machine; use cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: MPS is not available on this machine; use cpu or auto")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r}: not supported here; use auto, cpu, cuda or cuda:N")
    return name


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` -> this process's GPU under torchrun."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("config: device 'cuda' requested but CUDA is not available; use device: auto or cpu")
        return torch.device("cuda", local_rank)
    return torch.device(name)


@dataclass(frozen=True)
class DeviceOptions:
    """What a run uses on its device beyond plain float32 (``device_options``)."""

    device: torch.device
    amp_dtype: torch.dtype | None = None  # autocast dtype; None = float32
    memory_format: torch.memory_format = torch.contiguous_format  # of the model and the input batches
    compile: bool = False  # torch.compile the backbone's body

    @property
    def pin_memory(self) -> bool:
        """Page-locked DataLoader batches, copied to the GPU asynchronously: on CUDA."""
        return self.device.type == "cuda"

    def autocast(self):
        """The context the forward pass runs in: autocast to ``amp_dtype``, or nothing (float32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def device_options(config: TrainConfig, device: torch.device) -> DeviceOptions:
    """AMP, channels_last and compile apply on CUDA, and on CPU only with ``accelerate_on_cpu``."""
    cuda = device.type == "cuda"
    accelerate = cuda or config.accelerate_on_cpu
    amp_dtype = None
    if config.amp and accelerate:
        if config.amp_dtype != "auto":
            amp_dtype = getattr(torch, config.amp_dtype)
        else:
            amp_dtype = torch.bfloat16 if not cuda or _native_bfloat16(device) else torch.float16
    return DeviceOptions(
        device, amp_dtype, torch.channels_last if config.channels_last and accelerate else torch.contiguous_format,
        compile=config.compile and accelerate,
    )  # fmt: skip


def _native_bfloat16(device: torch.device) -> bool:
    # Not torch.cuda.is_bf16_supported()'s default: it also says yes to the slow emulation on
    # pre-Ampere GPUs (V100, T4), where float16 with a GradScaler is the fast choice.
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def rng_state(device: torch.device) -> dict[str, Any]:
    """The global RNG states dropout draws from (CPU, and the GPU's): saved so a resume is exact."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = [torch.cuda.get_rng_state(device)]
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what ``rng_state`` saved (a CPU-saved state leaves the GPU's as it is)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if device.type == "cuda" and state.get("cuda"):
        torch.cuda.set_rng_state(state["cuda"][0], device)


def init_worker(worker_id: int) -> None:
    """Every DataLoader worker's start: it leaves SIGINT / SIGTERM to the training process, which stops cleanly
    and ends it, and it never collects the garbage it was forked with.

    Why the second: an unreachable cycle in the parent that still holds an earlier loader's iterator (say, one a
    stopped epoch left behind) is copied into the worker; collected there, the iterator's ``__del__`` tries to
    shut down workers that are not the worker's children and prints "AssertionError: can only test a child
    process" (seen in notebook 02's output). ``gc.freeze`` moves what was inherited out of the collector's reach,
    as Python's gc docs advise after a fork; the parent still collects it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()


def is_distributed() -> bool:
    """Whether this process belongs to an initialised process group (DDP)."""
    return dist.is_available() and dist.is_initialized()


@dataclass
class World:
    """This process's place among the DDP processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owned: bool = False  # this call initialised the process group, so it destroys it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(config: TrainConfig) -> World:
    """Join the process group ``torchrun`` set up (env RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return World()
    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():
        return World(rank, size, local_rank, owned=False)
    device = resolve_device(config.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:
        dist.init_process_group("gloo")
    return World(rank, size, local_rank, owned=True)
