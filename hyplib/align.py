"""Alignment of model positions to hypothesis symbols through character offsets.

A model position covers a character span (a character, a word piece, a word); a symbol is a
character (``char``), a word (``word``, spans given by the record's ``word_spans``) or the whole
record (``record``). A symbol's behaviour is the first, last or mean of the positions that
overlap it. Padding positions have span (-1, -1) and never reach a statistic. Everything is
computed for the whole batch at once with ``searchsorted`` on batch-global offsets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .errors import AnnotationError

POOLS = ("first", "last", "mean")


def symbol_spans(batch: dict[str, list], level: str) -> list[np.ndarray]:
    """Each record's symbols as (n, 2) character spans."""
    texts = batch["text"]
    if level == "char":
        return [np.stack([np.arange(len(t)), np.arange(1, len(t) + 1)], axis=1) for t in texts]
    if level == "record":
        return [np.array([[0, len(t)]]) for t in texts]
    if level == "word":
        if "word_spans" not in batch:
            raise AnnotationError("word-level hypotheses need records with a 'word_spans' column "
                                  "(the character span of each word in 'text')")
        return [np.asarray(s, dtype=np.int64).reshape(-1, 2) for s in batch["word_spans"]]
    raise ValueError(f"unknown level {level!r}")


@dataclass
class Alignment:
    """Which flattened (batch × positions) rows make each symbol's behaviour."""

    rows: torch.Tensor          # position row for each (symbol, position) pair
    symbols: torch.Tensor       # symbol of each pair
    counts: torch.Tensor        # positions per symbol
    n_symbols: int
    pool: str

    def to(self, device) -> "Alignment":
        return Alignment(self.rows.to(device), self.symbols.to(device), self.counts.to(device),
                         self.n_symbols, self.pool)

    def gather(self, behaviour: torch.Tensor) -> torch.Tensor:
        """(batch, positions, units) -> (symbols, units)."""
        flat = behaviour.reshape(-1, behaviour.shape[-1])
        if self.pool != "mean":
            return flat.index_select(0, self.rows)
        out = torch.zeros(self.n_symbols, flat.shape[1], dtype=flat.dtype, device=flat.device)
        out.index_add_(0, self.symbols, flat.index_select(0, self.rows))
        return out / self.counts[:, None].to(flat.dtype)


def align(spans: np.ndarray, symbols: Sequence[np.ndarray], pool: str = "first",
          record_ids: Sequence[int] | None = None) -> Alignment:
    """Align positions with character ``spans`` (batch, positions, 2) to ``symbols``."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, not {pool!r}")
    b, t = spans.shape[:2]
    counts = np.array([len(s) for s in symbols])
    sym = np.concatenate(list(symbols)).reshape(-1, 2) if len(symbols) else np.zeros((0, 2), int)
    stride = int(max(spans.max(initial=0), sym.max(initial=0))) + 1
    valid = spans[..., 0] >= 0
    rows = np.flatnonzero(valid)
    base = (rows // t) * stride
    order = np.argsort(spans[..., 0].reshape(-1)[rows] + base, kind="stable")
    rows = rows[order]
    starts = spans[..., 0].reshape(-1)[rows] + base[order]
    ends = spans[..., 1].reshape(-1)[rows] + base[order]
    sym_base = np.repeat(np.arange(b) * stride, counts)
    s, e = sym[:, 0] + sym_base, sym[:, 1] + sym_base
    first = np.searchsorted(ends, s, side="right")
    last = np.searchsorted(starts, e, side="left") - 1
    bad = first > last
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rec = int(np.repeat(np.arange(b), counts)[i])
        rid = record_ids[rec] if record_ids is not None else rec
        raise AnnotationError(
            f"record {rid}: the symbol at characters [{sym[i, 0]}, {sym[i, 1]}) is covered by no "
            f"model position ({int(bad.sum())} such symbols in this batch); the tokenizer "
            f"dropped or truncated that text, or the record's spans do not match its text")
    if pool == "first":
        pick, per = first, np.ones_like(first)
    elif pool == "last":
        pick, per = last, np.ones_like(last)
    else:
        pick, per = first, last - first + 1
    pair_sym = np.repeat(np.arange(len(sym)), per)
    step = np.arange(len(pair_sym)) - np.repeat(np.cumsum(per) - per, per)
    return Alignment(torch.from_numpy(rows[pick[pair_sym] + step]),
                     torch.from_numpy(pair_sym), torch.from_numpy(per), len(sym), pool)
