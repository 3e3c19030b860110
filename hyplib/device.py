"""Device and precision policy: where the models run and in which arithmetic.

``precision`` names (:data:`hyplib.settings.PRECISIONS`): ``"float32"`` is IEEE float32 on
every device (PyTorch would otherwise use TF32 in cuDNN on CUDA); ``"tf32"`` allows TF32 matrix
units on CUDA; ``"bfloat16"`` and ``"float16"`` run the models under autocast.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from .errors import HyplibError
from .settings import PRECISIONS, check_choice


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU; a device that is not there is an error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise HyplibError(f"unknown device {device!r} ({exc}): use auto, cpu, cuda or "
                          f"cuda:N") from None
    if dev.type == "cuda" and not (torch.cuda.is_available() and
                                   (dev.index or 0) < torch.cuda.device_count()):
        raise HyplibError(f"device {device!r} is not available here ({torch.cuda.device_count()}"
                          f" CUDA devices): use auto or cpu")
    return dev


_AUTOCAST = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def model_precision(precision: str, dev: torch.device):
    """The models' arithmetic: ``float32`` is IEEE float32 on every device (on CUDA, PyTorch
    would otherwise run cuDNN's convolutions and RNNs in TF32, ~1e-3 relative error);
    ``tf32`` lets CUDA's matrix units round float32 inputs to TF32 (faster; the CPU ignores
    it); ``bfloat16``/``float16`` run the models under autocast."""
    check_choice("precision", precision, PRECISIONS)
    dtype = _AUTOCAST.get(precision)
    cast = contextlib.nullcontext() if dtype is None else torch.autocast(dev.type, dtype=dtype)
    if dev.type != "cuda" or dtype is not None:
        return cast
    return _fp32_precision("tf32" if precision == "tf32" else "ieee", cast)


@contextlib.contextmanager
def _fp32_precision(mode: str, inner) -> Iterator[None]:
    """CUDA matrix products, cuDNN convolutions and RNNs in ``mode`` (``"ieee"`` or
    ``"tf32"``) inside the block; the process's settings are restored after it."""
    b = torch.backends
    if hasattr(b.cudnn, "rnn") and hasattr(b.cudnn.rnn, "fp32_precision"):  # torch >= 2.9
        knobs = [b.cuda.matmul, b.cudnn.conv, b.cudnn.rnn]
        attr, value = "fp32_precision", mode
    else:
        knobs, attr, value = [b.cuda.matmul, b.cudnn], "allow_tf32", mode == "tf32"
    saved = [getattr(k, attr) for k in knobs]
    try:
        for k in knobs:
            setattr(k, attr, value)
        with inner:
            yield
    finally:
        for k, v in zip(knobs, saved):
            setattr(k, attr, v)


