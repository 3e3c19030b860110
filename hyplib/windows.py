"""Records longer than a window, run in pieces, so that memory follows the window, not the record.

The engine batches the records of a pass as usual, except those longer than the window (in
characters of the model's text field): each of those runs alone, piece by piece, right after
the batch it falls in, so a prefix of the visiting order stays a random sample. Each piece
gives the inspectors the behaviours and labels of its own symbols; a whole-record symbol
(``record`` level) is pooled over the pieces (first, last or mean position) and scored once.

Pieces are cut at the start of a run of whitespace that no word of the record crosses, so
characters and words each fall in one piece and a tokenizer that splits at whitespace sees the
same tokens; a stretch of a whole window without such a place is cut where the window ends
(past the word there, if any). How a model runs a piece is its :attr:`~hyplib.Model.window`:

- ``"state"`` (recurrent models: charlm, wordlm, Lakretz's LSTM): each piece starts from the
  state the one before ended in (:meth:`~hyplib.Model.forward_window`). The behaviours are the
  whole record's, to float rounding.
- ``"context"`` (attention models: :class:`hyplib_zoo.hf.HFModel`): each piece runs after the
  ``context`` tokens before it, which are run but not scored, in at most ``max_positions``
  positions (and no more characters than that: a token holds at least one). Exact for a
  model whose attention reaches back no further than ``context`` tokens (a sliding window of
  w tokens over L layers reaches L × (w - 1)); otherwise approximate, as a position then sees
  ``context`` tokens back instead of the whole record. Their behaviour-cache files are kept
  apart.
- ``None`` (the default for a model of one's own): records are run whole. With the default
  window a long record is then run whole, with a warning; with a window asked for, it is an
  error naming the model: windows there would silently change its behaviours.
"""
from __future__ import annotations

import warnings
from typing import Iterator

import numpy as np
import pyarrow.compute as pc
import torch

from .align import align
from .device import model_precision
from .errors import HyplibError, HyplibWarning
from .extract import record
from .models import Encoded, Model

DEFAULT_WINDOW = 1 << 14  # characters: a longer record runs in pieces of at most this many
KINDS = (None, "state", "context")
SPACE = np.array([chr(c).isspace() for c in range(0x3002)])  # the last: every code above


def check_model(m: Model) -> None:
    """A model's windowing declaration, checked: a clear error, never a wrong default."""
    if m.window not in KINDS:
        raise HyplibError(f"model {m.name!r} declares window = {m.window!r}: it must be 'state' "
                          f"(a recurrent model with forward_window), 'context' (an attention "
                          f"model) or None (records run whole)")
    if m.window == "state" and type(m).forward_window is Model.forward_window:
        raise HyplibError(f"model {m.name!r} declares window = 'state' but does not implement "
                          f"forward_window(encoded, device, state) -> state")
    if m.window == "context" and m.max_positions is not None and \
            not 0 <= m.context < m.max_positions:
        raise HyplibError(f"model {m.name!r}: its context ({m.context} positions) must be "
                          f"below its max_positions ({m.max_positions})")


def text_lengths(data, field: str) -> np.ndarray:
    """The number of characters of each record's ``field``."""
    column = data.with_format("arrow")[field]
    return pc.utf8_length(column).to_numpy(zero_copy_only=False).astype(np.int64)


class Windows:
    """Which records of a pass are longer than the window, and how each model runs them.

    ``window``: ``None`` (:data:`DEFAULT_WINDOW` characters for models that declare how to
    run pieces), ``0`` (every record whole) or a number of characters (every text model must
    declare how).
    """

    def __init__(self, plan: dict, data, window: int | None):
        self.plan = plan
        self.size = DEFAULT_WINDOW if window is None else window
        texts = [m for m in plan if m.symbols == "text"]
        for m in texts:
            check_model(m)
        self.long = np.zeros(len(data), bool)
        if not self.size or not texts:
            return
        for m in texts:
            self.long |= text_lengths(data, m.field) > self.limit(m)
        if not self.long.any():
            return
        if len(texts) < len(plan):
            raise HyplibError(f"{int(self.long.sum())} records are longer than the window of "
                              f"{self.size} characters, and the pass has an image model too: "
                              f"run the text models apart, or pass window=0 (--window 0)")
        whole = [m.name for m in texts if m.window is None]
        if whole and window is not None:
            raise HyplibError(f"model {whole[0]!r} cannot run a record in pieces (it declares "
                              f"no window kind), and {int(self.long.sum())} records are longer "
                              f"than the window of {self.size} characters: pass window=0 "
                              f"(--window 0) to run records whole, or declare the model's "
                              f"window ('state' with forward_window, or 'context')")
        if whole:
            warnings.warn(f"model {whole[0]!r} declares no window kind, so {int(self.long.sum())} "
                          f"records longer than {self.size} characters run whole (memory grows "
                          f"with them); declare its window, or pass window=0 to silence this",
                          HyplibWarning, stacklevel=4)
            self.long[:] = False

    def limit(self, m: Model) -> int:
        """The most characters ``m`` reads at once: the window, and for an attention model at
        most its ``max_positions`` (a token holds at least one character)."""
        return min(self.size, m.max_positions or self.size) if m.window == "context" else \
            self.size

    def meta(self) -> dict:
        """What a result's meta says of the windows: ``windows``, the window in characters,
        the number of records cut, and each model's kind (with its context), when any were."""
        if not self.long.any():
            return {}
        kinds = {m.name: m.window + (f" {m.context}" if m.window == "context" else "")
                 for m in self.plan if m.symbols == "text"}
        return {"windows": {"window": self.size, "records": int(self.long.sum()),
                            "models": kinds}}

    def cache_tag(self, m: Model) -> str:
        """What the behaviour cache's key adds for ``m``: the window and context of an
        approximate ("context") model whose records are cut, else nothing."""
        if m.window == "context" and self.long.any():
            return f"window={self.limit(m)},context={m.context}"
        return ""

    def split(self, order: np.ndarray, batch_size: int) -> tuple[np.ndarray, dict]:
        """The order without its long records, and the long records to run after each batch
        of the rest (``-1``: before the first), each where it falls in ``order``."""
        if not self.long.any():
            return order, {}
        is_long = self.long[order]
        shorter = np.cumsum(~is_long)[is_long]  # short records before each long one
        after: dict[int, list[int]] = {}
        for batch, rec in zip((shorter - 1) // batch_size, order[is_long]):
            after.setdefault(int(batch), []).append(int(rec))
        return order[~is_long], after

    def run(self, run, data, records, state: dict, n_symbols: dict | None, stores: dict,
            finite, feed, calibrating: dict | None = None) -> Iterator[np.ndarray]:
        """Feed each of ``records`` to the inspectors piece by piece (``feed``: the engine's
        per-model update), yielding it (as a one-record array) after each; with
        ``calibrating``, stop once no inspector wants more."""
        from .engine import _trim_heap

        table = data.with_format("arrow")
        for rec in records:
            row = table[rec:rec + 1]
            for m, chosen in run.plan.items():
                pieces = _Record(self, m, chosen, rec, row, run, stores, finite)
                with model_precision(run.precision, run.dev):
                    for behaviours, ys in pieces.behaviours():
                        feed(m, chosen, None, np.array([rec]), None, ys, run, state, stores,
                             finite, calibrating, behaviours=behaviours)
                        _trim_heap()  # hand back each piece's buffers
            finite.flush()
            if n_symbols is not None:
                for lv in run.levels:
                    offsets = lv.labels.offsets
                    n_symbols[lv.name] += int(offsets[rec + 1] - offsets[rec])
            yield np.array([rec])
            if calibrating and not any(calibrating.values()):
                return


class _Record:
    """One long record and one model: the behaviours and labels of each piece."""

    def __init__(self, wins: Windows, m: Model, chosen, rec: int, row, run, stores: dict,
                 finite):
        self.m, self.chosen, self.rec, self.run = m, chosen, rec, run
        self.size, self.stores, self.finite = wins.limit(m), stores, finite
        self.text = row.column(m.field)[0].as_py()
        self.words = np.zeros((0, 2), np.int64)
        if any(lv.name == "word" for lv in run.levels) and "word_spans" in row.column_names:
            flat = pc.list_flatten(pc.list_flatten(row.column("word_spans")))
            self.words = flat.to_numpy(zero_copy_only=False).astype(np.int64).reshape(-1, 2)
        self.safe, self.inside = _cut_places(self.text, self.words)

    def cut(self, start: int, size: int) -> int:
        """The end of the piece from ``start``: the last safe place within ``size``
        characters, else ``start + size`` moved past the word there."""
        end = start + size
        if end >= len(self.text):
            return len(self.text)
        j = np.searchsorted(self.safe, end, side="right") - 1
        if j >= 0 and self.safe[j] > start:
            return int(self.safe[j])
        while end < len(self.text) and self.inside[end]:
            end += 1
        return end

    def behaviours(self) -> Iterator[tuple[list, dict]]:
        """(behaviours [(level, layer, None, symbols × units)], labels by level) per piece,
        and last, those of the whole-record symbol."""
        mine = [self.stores.get((self.m, layer, lv.name)) for lv in self.run.levels
                for layer in self.chosen]
        if mine and all(st is not None and st.reader is not None for st in mine):
            yield from self._cached()
            return
        pooled: dict[str, list] = {}
        for start, enc in self._pieces():
            with record(self.m.module, self.chosen, self.m.name) as seen:
                if self.m.window == "state":
                    self.carry = self.m.forward_window(enc, self.run.dev, self.carry)
                else:
                    self.m.forward(enc, self.run.dev)
            valid = torch.from_numpy(np.flatnonzero(enc.spans[0, :, 0] >= 0))
            for layer in self.chosen:
                _pool(pooled, layer, seen[layer][0].index_select(0, valid.to(self.run.dev)))
            out, ys = [], {}
            for lv in self.run.levels:
                if lv.name == "record":
                    continue
                idx, spans = self._symbols(lv.name, start, self.end)
                if not len(idx):
                    continue
                al = align(enc.spans, [spans], self.run.pool, [self.rec]).to(self.run.dev)
                ys[lv.name] = self._labels(lv, idx)
                for layer in self.chosen:
                    out.append((lv, layer, None, self._checked(al.gather(seen[layer]).float(),
                                                               lv, layer, idx)))
            del seen
            if out:
                yield out, ys
        records = [lv for lv in self.run.levels if lv.name == "record"]
        if records and pooled:
            lv, idx = records[0], np.zeros(1, np.int64)
            yield ([(lv, layer, None, self._checked(_pooled(pooled[layer], self.run.pool),
                                                    lv, layer, idx))
                    for layer in self.chosen], {lv.name: self._labels(lv, idx)})

    def _pieces(self) -> Iterator[tuple[int, Encoded]]:
        """(start, encoded piece), with ``self.end`` the piece's end; spans in the record's
        characters, context positions (-1, -1)."""
        self.carry, start, size = None, 0, self.size
        context_chars = 8 * self.m.context
        while start < len(self.text):
            self.end = self.cut(start, size)
            if self.m.window == "state":
                enc = self.m.encode([self.text[start:self.end]])
                enc.spans[enc.spans >= 0] += start
                if not (enc.spans[0, :, 0] >= 0).any():  # no token (blanks): nothing to run
                    start = self.end
                    continue
            else:
                enc, context_chars = _with_context(self.m, self.text, start, self.end,
                                                   context_chars)
                limit = self.m.max_positions
                if limit is not None and enc.spans.shape[1] > limit:
                    if self.end - start <= 1:
                        raise HyplibError(f"model {self.m.name!r}: one character of record "
                                          f"{self.rec} needs more than its {limit} positions")
                    size = max(1, (self.end - start) // 2)
                    continue
            yield start, enc
            start = self.end

    def _symbols(self, level: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """The piece's symbols of ``level``: their indices in the record, and spans."""
        if level == "char":
            idx = np.arange(start, end)
            return idx, np.stack([idx, idx + 1], 1)
        idx = np.flatnonzero((self.words[:, 0] >= start) & (self.words[:, 1] <= end))
        return idx, self.words[idx]

    def _labels(self, lv, idx: np.ndarray) -> torch.Tensor:
        return lv.labels.rows(lv.labels.offsets[self.rec] + idx).to(self.run.dev)

    def _checked(self, x: torch.Tensor, lv, layer: str, idx: np.ndarray) -> torch.Tensor:
        """``x`` checked to be finite, and written to the behaviour cache when one fills."""
        self.finite(x, self.m.name, layer, np.array([len(x)]), np.array([self.rec]))
        store = self.stores.get((self.m, layer, lv.name))
        if store is not None:
            store.write_rows(store.offsets[self.rec] + idx, x)
        return x

    def _cached(self) -> Iterator[tuple[list, dict]]:
        """The record's behaviours from the behaviour cache, a window of symbols at a time."""
        for lv in self.run.levels:
            count = int(lv.labels.offsets[self.rec + 1] - lv.labels.offsets[self.rec])
            for lo in range(0, count, self.size):
                idx = np.arange(lo, min(count, lo + self.size))
                out = []
                for layer in self.chosen:
                    store = self.stores[(self.m, layer, lv.name)]
                    x = store.read_rows(store.offsets[self.rec] + idx).to(self.run.dev)
                    self.finite(x, self.m.name, layer, np.array([len(x)]), np.array([self.rec]))
                    out.append((lv, layer, None, x))
                yield out, {lv.name: self._labels(lv, idx)}


def _cut_places(text: str, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a piece may end: the start of each run of whitespace that no word crosses; and
    whether each character lies strictly inside a word."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    space = SPACE[np.minimum(codes, len(SPACE) - 1)]
    starts = space & ~np.concatenate([[True], space[:-1]])
    if not len(words):
        return np.flatnonzero(starts), np.zeros(len(codes), bool)
    inside = np.zeros(len(codes) + 1, np.int32)
    np.add.at(inside, np.minimum(words[:, 0] + 1, len(codes)), 1)
    np.add.at(inside, words[:, 1], -1)
    inside = np.cumsum(inside, dtype=np.int32)[:len(codes)] > 0
    return np.flatnonzero(starts & ~inside), inside


def _with_context(m: Model, text: str, start: int, end: int, chars: int
                  ) -> tuple[Encoded, int]:
    """The piece ``text[start:end]`` encoded after its last ``m.context`` tokens of context
    (fewer at the record's start), whose spans are (-1, -1); and the number of characters of
    text that gave enough context tokens (the next piece starts with it)."""
    while True:
        lo = max(0, start - chars)
        enc = m.encode([text[lo:end]])
        spans = enc.spans
        spans[spans >= 0] += lo
        scored = spans[0, :, 1] > start
        first = int(np.argmax(scored)) if scored.any() else spans.shape[1]
        if first > m.context or lo == 0:  # one more than needed: a first <s> is dropped
            break
        chars *= 2
    drop = max(0, first - m.context)
    inputs = {}
    for k, v in enc.inputs.items():
        if v.dim() < 2 or v.shape[:2] != (1, spans.shape[1]):
            raise HyplibError(f"model {m.name!r}: input {k!r} of shape {tuple(v.shape)} is not "
                              f"one value per position (1, positions), so its context cannot "
                              f"be cut to {m.context} positions")
        inputs[k] = v[:, drop:]
    if "position_ids" in inputs:  # the window's positions count from 0
        inputs["position_ids"] = inputs["position_ids"] - inputs["position_ids"][:, :1]
    spans = spans[:, drop:].copy()
    spans[0, :first - drop] = -1
    return Encoded(inputs, spans), chars


def _pool(pooled: dict, layer: str, h: torch.Tensor) -> None:
    """Add a piece's scored positions (positions × units) to the whole record's pooling:
    first, last, sum and count."""
    if not len(h):
        return
    if layer not in pooled:
        pooled[layer] = [h[0].double(), None, 0.0, 0]
    entry = pooled[layer]
    entry[1:] = h[-1].double(), entry[2] + h.double().sum(0), entry[3] + len(h)


def _pooled(entry: list, pool: str) -> torch.Tensor:
    """The whole record's behaviour (1 × units): its first, last or mean position."""
    first, last, total, count = entry
    return {"first": first, "last": last, "mean": total / count}[pool].float()[None]
