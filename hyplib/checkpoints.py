"""Load a trained model's checkpoint from hyplib's cache, or train it now and cache it."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import torch

from .cache import atomic_path, cache_dir, digest
from .integrity import seal, verified


def checkpoint(name: str, recipe, train: Callable[[], dict]) -> tuple[dict, Path]:
    """The saved dict (``state_dict``, ``record``, ...) of the model ``name`` built by
    ``recipe`` (anything :func:`hyplib.digest` takes: versions, config, a hash of the corpus):
    read from ``models/NAME-DIGEST.pt`` in hyplib's cache, else ``train()`` is called and what
    it returns is saved there atomically, with a checksum sidecar (:mod:`hyplib.integrity`)
    that is checked on every read: a damaged checkpoint is moved aside and trained again.
    Returns the dict and the file's path."""
    key = digest(recipe)
    path = cache_dir("models") / f"{name}-{key}.pt"
    schema = {"model": name, "recipe": key}
    if verified(path, schema):
        return torch.load(path, map_location="cpu", weights_only=True), path
    saved = train()
    buffer = io.BytesIO()  # serialised first, so a full disk is an OSError of the write below
    torch.save(saved, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())
        seal(path, schema, tmp)
    return saved, path
