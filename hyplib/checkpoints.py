"""Load a trained model's checkpoint from hyplib's cache, or train it now and cache it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .cache import atomic_path, cache_dir, digest


def checkpoint(name: str, recipe, train: Callable[[], dict]) -> tuple[dict, Path]:
    """The saved dict (``state_dict``, ``record``, ...) of the model ``name`` built by
    ``recipe`` (anything :func:`hyplib.digest` takes: versions, config, a hash of the corpus):
    read from ``models/NAME-DIGEST.pt`` in hyplib's cache, else ``train()`` is called and what
    it returns is saved there atomically. Returns the dict and the file's path."""
    path = cache_dir("models") / f"{name}-{digest(recipe)}.pt"
    if path.exists():
        return torch.load(path, map_location="cpu", weights_only=True), path
    saved = train()
    with atomic_path(path) as tmp:
        torch.save(saved, tmp)
    return saved, path
