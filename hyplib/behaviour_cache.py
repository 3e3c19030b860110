"""The behaviour cache: aligned behaviours kept on disk so repeated queries skip the model.

One memory-mapped ``.npy`` file per (model weights, layer, data, level, pool, precision): the
(symbols × units) float32 behaviours of every record, in data-set order. A file is written
during a pass that reads every record and moved into place only when complete; a sampled,
early-stopped or interrupted pass leaves nothing behind. Its blocks are allocated before the
first write (``posix_fallocate``, else zeros written in order), so a full disk is a clear
error at the start, never a SIGBUS from a memory-mapped write into a hole. A complete file is
sealed with a checksum sidecar (:mod:`hyplib.integrity`) that is checked when it is opened.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import tempfile

import datasets
import numpy as np
import pyarrow.compute as pc
import torch

from .annotation import symbol_index
from .cache import cache_dir, digest
from .fingerprint import code_fingerprint
from .integrity import is_write_failure, part_prefix, quarantine, seal, verified, write_error


def model_fingerprint(module: torch.nn.Module) -> str:
    """A hash of the module's class, the code of every submodule
    (:func:`~hyplib.fingerprint.code_fingerprint`), every parameter and buffer, every
    submodule's plain settings (numbers, strings, flags: a noise level, a dropout rate), and
    any active ablation."""
    from .intervene import active

    h = hashlib.sha256(type(module).__qualname__.encode())
    h.update(code_fingerprint(*module.modules()).encode())
    h.update(json.dumps(active(module), sort_keys=True, default=str).encode())
    plain = (bool, int, float, str, type(None))
    settings = {f"{name}:{type(sub).__qualname__}":
                {k: v for k, v in vars(sub).items() if not k.startswith("_")
                 and isinstance(v, plain) and not hasattr(type(sub), k)}  # not a patched method
                for name, sub in module.named_modules()}
    h.update(json.dumps(settings, sort_keys=True).encode())
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def behaviour_key(model) -> str:
    """The behaviour cache's key for a model: its module (:func:`model_fingerprint`), and the
    code that turns its outputs into aligned behaviours: the model's own class (its
    tokenizer, its spans) and hyplib's alignment."""
    from . import align

    return model_fingerprint(model.module) + code_fingerprint(model, align.Alignment)[:8]


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
        self.schema = {"key": key, "layer": layer, "level": level, "rows": int(self.offsets[-1]),
                       "dtype": "float32"}
        self._writer: np.memmap | None = None
        self._tmp: str | None = None
        self.reader = self._open() if verified(self.path, self.schema) else None

    def _open(self) -> np.memmap | None:
        try:
            reader = np.load(self.path, mmap_mode="r")
        except (ValueError, OSError) as exc:
            quarantine(self.path, f"it is not a readable .npy file ({exc})")
            return None
        if reader.dtype != np.float32 or reader.ndim != 2 or len(reader) != self.schema["rows"]:
            quarantine(self.path, f"it holds {reader.dtype} {reader.shape}, not float32 "
                                  f"({self.schema['rows']}, units)")
            return None
        return reader

    def read(self, records: np.ndarray) -> torch.Tensor:
        return self.read_rows(symbol_index(self.offsets, records))

    def read_rows(self, rows: np.ndarray) -> torch.Tensor:
        """The behaviours of the symbols at ``rows`` (of the whole data set)."""
        return torch.from_numpy(np.ascontiguousarray(self.reader[rows]))

    def write(self, records: np.ndarray, x: torch.Tensor) -> None:
        self.write_rows(symbol_index(self.offsets, records), x)

    def write_rows(self, rows: np.ndarray, x: torch.Tensor) -> None:
        if self._writer is None:
            self._writer = self._allocate(x.shape[1])
        self._writer[rows] = x.detach().float().cpu().numpy()

    def _allocate(self, units: int) -> np.memmap:
        """A memory-mapped .npy file beside the target whose every block is on disk."""
        shape = (self.schema["rows"], units)
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=part_prefix(self.path.name), suffix=".part",
                                             dir=self.path.parent)
            os.close(fd)
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "<f4", "fortran_order": False, "shape": shape})
            size = header.tell() + 4 * shape[0] * shape[1]
            with open(self._tmp, "r+b") as f:
                f.write(header.getvalue())
                _preallocate(f, size)
            return np.lib.format.open_memmap(self._tmp, mode="r+")
        except OSError as exc:
            if self._tmp and os.path.exists(self._tmp):
                os.unlink(self._tmp)
            self._tmp = None
            if not is_write_failure(exc):
                raise
            raise write_error(self.path, exc) from exc

    def close(self, complete: bool) -> None:
        """Move a complete file into place; otherwise remove what was written."""
        if self._writer is None:
            return
        self._writer.flush()
        self._writer = None
        try:
            if complete:
                seal(self.path, self.schema, self._tmp)
                os.replace(self._tmp, self.path)
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)


def _preallocate(f, size: int) -> None:
    """Give ``f`` ``size`` bytes of real blocks: ``posix_fallocate`` where the file system
    has it, else zeros written in order (either raises ENOSPC now if they do not fit)."""
    try:
        os.posix_fallocate(f.fileno(), 0, size)
        return
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS,
                                                          errno.EINVAL):
            raise
    f.seek(0, os.SEEK_END)
    zeros = bytes(1 << 22)
    while (left := size - f.tell()) > 0:
        f.write(zeros[:left])
    f.flush()
