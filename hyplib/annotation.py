"""Annotation: materialise a hypothesis's labels once, cached by data fingerprint and what the
hypothesis is (:func:`~hyplib.fingerprint.hypothesis_key`: name, version, providing
distribution, a hash of its definition).

The data fingerprint is the ``datasets`` one. Labels are written with ``datasets``' Arrow writer
to a temporary file that is moved into place only when complete (an interrupted run leaves no
partial cache), sealed with a checksum sidecar (:mod:`hyplib.integrity`) that is checked when
read back memory-mapped as one flat array with per-record offsets.
"""
from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import torch
from datasets.arrow_writer import ArrowWriter
from tqdm.auto import tqdm

from .align import symbol_spans
from .cache import atomic_path, cache_dir, digest
from .errors import AnnotationError
from .fingerprint import hypothesis_key
from .integrity import seal, verified
from .types import Hypothesis, as_label_array

FEATURES = datasets.Features({"labels": datasets.Sequence(datasets.Value("float32"))})


@dataclass
class Labels:
    """One hypothesis's labels for a data set: record ``i`` owns ``values[offsets[i]:offsets[i+1]]``."""

    hypothesis: Hypothesis
    values: np.ndarray
    offsets: np.ndarray

    def take(self, records: np.ndarray) -> np.ndarray:
        """The labels of ``records``, concatenated in that order."""
        return self.values[symbol_index(self.offsets, records)]


def symbol_index(offsets: np.ndarray, records: np.ndarray) -> np.ndarray:
    """The positions of ``records``' symbols, concatenated in that order, where record ``i``
    owns ``offsets[i]:offsets[i+1]``."""
    starts, stops = offsets[records], offsets[records + 1]
    counts = stops - starts
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


class LabelTable:
    """Several hypotheses' labels on one symbol level, gathered for a batch in one step.

    The uint8 labels (those that are small whole numbers, see :func:`_compact_dtype`) are one
    (symbols × hypotheses) byte matrix, the rest one float32 matrix; :meth:`matrix` gathers
    the batch's rows of each once and places them in the label matrix, categorical
    hypotheses one-hot, with no loop over hypotheses.
    """

    def __init__(self, labels: list[Labels]):
        offsets = labels[0].offsets
        for lab in labels[1:]:
            if not np.array_equal(lab.offsets, offsets):
                raise AnnotationError(f"hypotheses {labels[0].hypothesis.name!r} and "
                                      f"{lab.hypothesis.name!r} label different symbols: they "
                                      f"must be of the same level")
        self.offsets = offsets
        widths = [len(lab.hypothesis.columns) for lab in labels]
        self.width = sum(widths)
        starts = np.cumsum([0] + widths)[:-1]
        self.parts = []  # (values: symbols × k, first column of each, categorical or not)
        for small in (True, False):
            mine = [i for i, lab in enumerate(labels) if (lab.values.dtype == np.uint8) == small]
            if mine:
                values = np.stack([labels[i].values for i in mine], 1)
                self.parts.append((values if small else values.astype(np.float32),
                                   starts[mine],
                                   np.array([labels[i].hypothesis.kind == "categorical"
                                             for i in mine])))

    def matrix(self, records: np.ndarray) -> torch.Tensor:
        """(symbols × columns) float32 labels of ``records``: categorical hypotheses one-hot."""
        return self.rows(symbol_index(self.offsets, records))

    def rows(self, index: np.ndarray) -> torch.Tensor:
        """:meth:`matrix` of the symbols at ``index`` (rows of the whole data set's table)."""
        y = np.zeros((len(index), self.width), dtype=np.float32)
        for values, starts, categorical in self.parts:  # at most two: bytes, floats
            v = values[index]
            columns = starts + np.where(categorical, v, 0).astype(np.int64)
            np.put_along_axis(y, columns, np.where(categorical, 1, v).astype(np.float32), 1)
        return torch.from_numpy(y)


def _label_batch(batch: dict[str, list], indices: list[int], hyp: Hypothesis,
                 spans: list | None = None) -> dict:
    """One hypothesis's labels of a batch, checked against the batch's ``spans`` of its level
    (found here when not given)."""
    if spans is None:
        spans = symbol_spans(batch, hyp.level)
    try:
        out = list(hyp.fn(batch))
    except Exception as exc:
        raise AnnotationError(f"hypothesis {hyp.name!r} failed on records {indices[0]}-"
                              f"{indices[-1]}: {type(exc).__name__}: {exc}") from exc
    if len(out) != len(indices):
        raise AnnotationError(f"hypothesis {hyp.name!r} returned {len(out)} label sequences for "
                              f"a batch of {len(indices)} records")
    labels = []
    for i, (values, want) in enumerate(zip(out, spans)):
        try:
            arr = as_label_array([values] if hyp.level == "record" else values, hyp)
        except (ValueError, TypeError) as exc:
            raise AnnotationError(f"{exc} (record {indices[i]})") from None
        if len(arr) != len(want):
            text = f" (text starts {batch['text'][i][:40]!r})" if "text" in batch else ""
            raise AnnotationError(
                f"hypothesis {hyp.name!r} gave {len(arr)} labels for record {indices[i]}, which "
                f"has {len(want)} {hyp.level} symbols{text}; a {hyp.level}-"
                f"level hypothesis must return one label per {hyp.level}")
        if not np.isfinite(arr).all():
            at = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise AnnotationError(f"hypothesis {hyp.name!r} gave a non-finite label at "
                                  f"{hyp.level} {at} of record {indices[i]}")
        if hyp.kind == "binary" and not np.isin(arr, (0, 1)).all():
            bad = arr[~np.isin(arr, (0, 1))][0]
            raise AnnotationError(f"binary hypothesis {hyp.name!r} gave the label {bad:g} in "
                                  f"record {indices[i]}: binary labels must be 0/1 or booleans "
                                  f"(use kind='categorical' or 'continuous' for other values)")
        if hyp.kind == "categorical" and ((arr < 0) | (arr >= len(hyp.classes)) | (arr % 1 != 0)).any():
            raise AnnotationError(f"hypothesis {hyp.name!r} gave a label that is not a class "
                                  f"index 0..{len(hyp.classes) - 1} in record {indices[i]}")
        labels.append(arr)
    return {"labels": labels}


def annotate(data: datasets.Dataset, hypotheses: list[Hypothesis], batch_size: int = 256,
             progress: bool = True) -> dict[str, Labels]:
    """The labels of each hypothesis on ``data``: read from the cache, or computed now.

    The missing ones are computed together in one pass over the records (so hypotheses that
    share a parse, like a tokenizer's states, reuse it) and each is written to its own file.
    """
    keys = {h.name: label_key(data, h) for h in hypotheses}
    paths = {h.name: label_path(data, h) for h in hypotheses}
    missing = [h for h in hypotheses if not verified(paths[h.name], keys[h.name])]
    if missing:
        with contextlib.ExitStack() as stack:
            tmps = {h.name: stack.enter_context(atomic_path(paths[h.name])) for h in missing}
            writers = {h.name: stack.enter_context(ArrowWriter(features=FEATURES,
                                                               path=str(tmps[h.name])))
                       for h in missing}
            with tqdm(total=len(data), desc=f"annotate {len(missing)} hypotheses", unit="rec",
                      disable=not progress) as bar:
                for lo in range(0, len(data), batch_size):
                    batch = data[lo:lo + batch_size]
                    indices = list(range(lo, min(lo + batch_size, len(data))))
                    spans = {lv: symbol_spans(batch, lv) for lv in {h.level for h in missing}}
                    for h in missing:
                        writers[h.name].write_batch(_label_batch(batch, indices, h,
                                                                 spans[h.level]))
                    bar.update(len(indices))
            for h in missing:
                writers[h.name].finalize()
                seal(paths[h.name], keys[h.name], tmps[h.name])
    return {h.name: _read(h, paths[h.name]) for h in hypotheses}


def label_key(data: datasets.Dataset, h: Hypothesis) -> dict:
    """What the labels of ``h`` on ``data`` depend on: the data's fingerprint and
    :func:`~hyplib.fingerprint.hypothesis_key`."""
    return {"data": data._fingerprint, **hypothesis_key(h)}


def label_path(data: datasets.Dataset, h: Hypothesis) -> Path:
    """Where the labels of ``h`` on ``data`` are cached (keyed by :func:`label_key`)."""
    stem = re.sub(r"[^A-Za-z0-9_.=+-]", "_", h.name).lstrip(".")[:80]  # the digest tells apart
    root = cache_dir("annotations", data._fingerprint)
    return root / f"{stem}-{digest(label_key(data, h))}.arrow"


def _read(hyp: Hypothesis, path: Path) -> Labels:
    """The labels in ``path``, compacted (:func:`_compact_dtype`) straight from the
    memory-mapped file, chunk by chunk: no full-size float32 copy is made on the way."""
    with pa.memory_map(str(path)) as source:  # the Arrow stream datasets' ArrowWriter wrote
        chunks = pa.ipc.open_stream(source).read_all().column("labels").chunks
        parts = [c.flatten().to_numpy(zero_copy_only=False) for c in chunks]
        dtype = _compact_dtype(parts)
        values = (np.concatenate(parts, dtype=dtype, casting="unsafe") if parts
                  else np.zeros(0, dtype))
        counts = [np.diff(c.offsets.to_numpy()) for c in chunks]
    offsets = np.zeros(sum(map(len, counts)) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    return Labels(hyp, values, offsets)


def _compact_dtype(parts: list[np.ndarray]) -> type:
    """uint8 where every label is a whole number from 0 to 255 (binary and categorical labels,
    and the small counts many continuous hypotheses give: depths, positions), else float32:
    labels stay in memory for the whole pass, and uint8 is a quarter of the memory."""
    fits = all(((p >= 0) & (p <= 255) & (p == np.floor(p))).all() for p in parts)
    return np.uint8 if fits else np.float32


def label_matrix(labels: list[Labels], records: np.ndarray, device="cpu") -> torch.Tensor:
    """(symbols × columns) float32 labels of ``records``: categorical hypotheses one-hot. To
    gather many batches, build a :class:`LabelTable` once."""
    return LabelTable(labels).matrix(records).to(device, non_blocking=True)
