"""The benchmarks' memory and machine readings: peak RSS (resettable on Linux), the size of
an inspector's state, and a line describing the machine."""
from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

import numpy as np
import torch
from machine import commit


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mib(field: str = "VmRSS") -> float:
    """The process's resident memory (``VmHWM``: its peak since :func:`reset_peak`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tensor_mib(obj) -> float:
    """The size of every tensor in a (nested) state dict."""
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size() / 2 ** 20
    if isinstance(obj, dict):
        return sum(tensor_mib(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_mib(v) for v in obj)
    return 0.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}; {os.cpu_count()} CPUs, commit {commit()}, torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads (OMP_WAIT_POLICY="
            f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}); numpy {np.__version__}; Python "
            f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end "
            "(the machine is shared)")
