"""Where a benchmark ran, as every results row records it, and where its results go."""
from __future__ import annotations

import os

import torch


def machine(dev: torch.device) -> dict:
    """The device (the GPU's name on CUDA), CPUs, torch threads and the load average."""
    return {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average": round(os.getloadavg()[0], 1)}


def stem(script: str, dev: torch.device, name: str | None = None) -> str:
    """The results file stem: ``name``, else ``script`` on the CPU and ``script-cuda`` on
    CUDA, so GPU runs do not overwrite the CPU's results."""
    return name or (script if dev.type == "cpu" else f"{script}-{dev.type}")
