"""Where a benchmark ran, as every results row records it, and where its results go."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import torch


def commit() -> str:
    """The checkout's commit (``+`` when the tree has changes), or ``unknown``."""
    root = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def machine(dev: torch.device) -> dict:
    """The device (the GPU's name on CUDA), CPUs, torch threads and the load average."""
    return {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "commit": commit(),
            "load_average": round(os.getloadavg()[0], 1)}


def stem(script: str, dev: torch.device, name: str | None = None) -> str:
    """The results file stem: ``name``, else ``script`` on the CPU and ``script-cuda`` on
    CUDA, so GPU runs do not overwrite the CPU's results."""
    return name or (script if dev.type == "cpu" else f"{script}-{dev.type}")
