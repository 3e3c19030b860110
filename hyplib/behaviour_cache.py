"""The behaviour cache: aligned behaviours kept on disk so repeated queries skip the model.

One memory-mapped ``.npy`` file per (model weights, layer, data, level, pool, precision): the
(symbols × units) float32 behaviours of every record, in data-set order. A file is written
during a pass that reads every record and moved into place only when complete; a sampled,
early-stopped or interrupted pass leaves nothing behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile

import datasets
import numpy as np
import pyarrow.compute as pc
import torch

from .annotation import symbol_index
from .cache import cache_dir, digest


def model_fingerprint(module: torch.nn.Module) -> str:
    """A hash of the module's class, every parameter and buffer, and any active ablation."""
    from .intervene import active

    h = hashlib.sha256(type(module).__qualname__.encode())
    h.update(json.dumps(active(module), sort_keys=True, default=str).encode())
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def symbol_offsets(data: datasets.Dataset, level: str) -> np.ndarray:
    """Where each record's symbols start in the data set's symbol order (n_records + 1)."""
    view = data.with_format("arrow")  # the records themselves, also after select/shuffle
    if level == "char":
        counts = pc.utf8_length(view["text"]).to_numpy(zero_copy_only=False)
    elif level == "word":
        counts = pc.list_value_length(view["word_spans"]).to_numpy(zero_copy_only=False)
    else:
        counts = np.ones(len(data), dtype=np.int64)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


class BehaviourStore:
    """The cached behaviours of one (model, layer, level): read them, or write them as they come."""

    def __init__(self, model_key: str, layer: str, data: datasets.Dataset, level: str,
                 pool: str, precision: str):
        key = digest([model_key, layer, data._fingerprint, level, pool, precision])
        self.path = cache_dir("behaviours") / f"{layer}-{level}-{key}.npy"
        self.offsets = symbol_offsets(data, level)
        self._writer: np.memmap | None = None
        self._tmp: str | None = None
        self.reader = np.load(self.path, mmap_mode="r") if self.path.exists() else None

    def read(self, records: np.ndarray) -> torch.Tensor:
        rows = symbol_index(self.offsets, records)
        return torch.from_numpy(np.ascontiguousarray(self.reader[rows]))

    def write(self, records: np.ndarray, x: torch.Tensor) -> None:
        if self._writer is None:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part",
                                             dir=self.path.parent)
            os.close(fd)
            self._writer = np.lib.format.open_memmap(
                self._tmp, mode="w+", dtype=np.float32, shape=(int(self.offsets[-1]), x.shape[1]))
        self._writer[symbol_index(self.offsets, records)] = x.detach().float().cpu().numpy()

    def close(self, complete: bool) -> None:
        """Move a complete file into place; otherwise remove what was written."""
        if self._writer is None:
            return
        self._writer.flush()
        self._writer = None
        if complete:
            os.replace(self._tmp, self.path)
        else:
            os.unlink(self._tmp)
