"""Per-unit histograms of activations split by label, edges learned from the first symbols, and
the base of the inspectors scored from them."""
from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import torch

from ..types import Hypothesis

_CHUNK = 1 << 22  # at most this many (unit, symbol) indices in memory per step
_BLOCK = 1 << 20  # (symbol, unit) values per block of rows binned on the CPU (1 MiB)
_DENSE_BINS = 64  # up to this many bins, count by matrix products (see _add)


class Tally(NamedTuple):
    """``edges`` (units × B-1); ``counts`` (units × B × 1+columns): column 0 counts every
    symbol, column 1+j the positives of label column j; ``low``/``high`` (units × B): the
    smallest and largest activation in each bin (±inf where empty, or when not tracked)."""

    edges: torch.Tensor
    counts: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor


class LabelHistogram:
    """Counts of each unit's binned activation: of all symbols and of each column's positives.

    Edges: each unit's interior edges are the quantiles at ``levels`` (linear interpolation
    between order statistics, numpy's default) of its activations on the first ``warmup``
    symbols of the stream, whatever the batching, or of the rows offered to :meth:`calibrate`
    before the stream (the engine offers a sample of records that does not depend on the
    pass's seed, so a full pass's edges, and counts, are the same for every seed). Until
    ``warmup`` symbols have been seen their rows are kept (``warmup × (units + columns)``
    floats on the device), and :meth:`tally` bins them with provisional edges from all of them. Bin ``b`` holds ``(e[b-1], e[b]]`` (``e[-1] =
    -inf``, ``e[B-1] = +inf``), so the count above any edge is exact. A label is positive
    where it exceeds 0.5. Counts are float64 (exact to 2**53). A later part of the stream is
    counted by a :meth:`fork` (the same edges, or the rows to set them from) and
    merged back exactly (:meth:`merge`): counts add, extents widen. With ``extents=False`` the
    extents are not tracked (they stay ±inf), which saves a scatter per symbol and unit.
    """

    def __init__(self, n_units: int, n_cols: int, levels: torch.Tensor, warmup: int, device,
                 extents: bool = True):
        self.levels = levels.to(torch.float64)
        self.warmup = warmup
        self.extents = extents
        self.seen = 0
        self.ready = False
        nb = len(levels) + 1
        self._tally = Tally(torch.zeros(n_units, nb - 1, device=device),
                            torch.zeros(n_units, nb, 1 + n_cols, dtype=torch.float64,
                                        device=device),
                            torch.full((n_units, nb), torch.inf, device=device),
                            torch.full((n_units, nb), -torch.inf, device=device))
        self._buf: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._prefix = self._tally.edges.new_zeros(0, n_units)
        self._cal: list[torch.Tensor] = []

    def calibrate(self, x: torch.Tensor) -> bool:
        """Offer rows to set the edges from, before the first :meth:`update` (the engine
        offers a sample of records chosen whatever the pass's seed, so that the edges do not
        depend on the order of the pass); the first update then sets the edges from the first
        ``warmup`` rows offered, and counts the stream whole. Whether more rows are wanted."""
        have = sum(len(c) for c in self._cal)
        if not self.ready and have < self.warmup:
            self._cal.append(x.float()[:self.warmup - have])
            have += len(self._cal[-1])
        return not self.ready and have < self.warmup

    def _calibrated(self) -> None:
        """Set the edges from the rows offered to :meth:`calibrate`, if any (counting none)."""
        if self._cal and not self.ready:
            self._tally.edges.copy_(_edges(torch.cat(self._cal), self.levels))
            self.ready, self._cal = True, []

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self._calibrated()
        if x.shape[0] == 0:
            return
        self.seen += x.shape[0]
        if self.ready:
            _add(self._tally, x, y, self.extents)
            return
        self._buf.append((x.float(), y))
        self._settle()

    def _settle(self) -> None:
        """Set the edges once the stream's first ``warmup`` symbols are here, and count the
        buffered rows."""
        if self.ready or self._prefix.shape[0] + self.seen < self.warmup:
            return
        bx, by = self._buffer()
        first = torch.cat([self._prefix, bx])[:self.warmup]
        self._tally.edges.copy_(_edges(first, self.levels))
        self.ready = True
        self._buf, self._prefix = [], self._prefix[:0]
        _add(self._tally, bx, by, self.extents)

    def tally(self) -> Tally:
        """The histograms so far (before ``warmup`` symbols: with provisional edges)."""
        if self.ready or not self._buf:
            return self._tally
        bx, by = self._buffer()
        t = Tally(_edges(torch.cat([self._prefix, bx]), self.levels),
                  *(torch.zeros_like(v) for v in self._tally[1:]))
        t.low.fill_(torch.inf)
        t.high.fill_(-torch.inf)
        _add(t, bx, by, self.extents)
        return t

    def _buffer(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.cat([b[0] for b in self._buf]), torch.cat([b[1] for b in self._buf])

    def fork(self) -> LabelHistogram:
        """An empty histogram for a later part of this stream: this one's edges, or while
        they are not set yet, this one's rows as the ``prefix`` they will be set from (those
        rows are not counted again)."""
        self._calibrated()
        units, nb, nc = self._tally.counts.shape
        new = LabelHistogram(units, nc - 1, self.levels, self.warmup, self._tally.edges.device,
                             self.extents)
        new.ready = self.ready
        new._tally.edges.copy_(self._tally.edges)
        if not self.ready:
            new._prefix = torch.cat([self._prefix] + [b[0] for b in self._buf])
        return new

    def merge(self, other: LabelHistogram) -> None:
        """Add ``other``'s symbols, a later part of the same stream (made by :meth:`fork`,
        or a histogram whose edges equal this one's). Exact: counts add, extents widen, and
        rows still buffered on either side are counted with the edges set."""
        self._calibrated()
        other._calibrated()
        if other.seen == 0:
            return
        if not torch.equal(self.levels, other.levels) or self.warmup != other.warmup:
            raise ValueError("cannot merge histograms with different levels or warm-up")
        theirs = [(x.to(self._prefix.device), y.to(self._prefix.device)) for x, y in other._buf]
        if other.ready and not self.ready:
            mine = self._buf
            self._tally = Tally(*(v.to(self._prefix.device).clone() for v in other._tally))
            self._buf, self.ready = [], True
            for x, y in mine:
                _add(self._tally, x, y, self.extents)
        elif other.ready:
            if not torch.equal(self._tally.edges, other._tally.edges.to(self._prefix.device)):
                raise ValueError("cannot merge histograms whose edges differ: make the later "
                                 "part's histogram with fork() from a state whose edges are set")
            self._tally.counts.add_(other._tally.counts.to(self._prefix.device))
            torch.minimum(self._tally.low, other._tally.low.to(self._prefix.device),
                          out=self._tally.low)
            torch.maximum(self._tally.high, other._tally.high.to(self._prefix.device),
                          out=self._tally.high)
        self.seen += other.seen
        if self.ready:
            for x, y in theirs:
                _add(self._tally, x, y, self.extents)
        else:
            self._buf += theirs
            self._settle()

    def to(self, device) -> LabelHistogram:
        self._tally = Tally(*(v.to(device) for v in self._tally))
        self._buf = [(x.to(device), y.to(device)) for x, y in self._buf]
        self._prefix = self._prefix.to(device)
        return self

    def state_dict(self) -> dict:
        """Tensors and numbers; the tally's counts and extents are ``None`` while nothing is
        counted (a fork's state is its edges only)."""
        bx, by = self._buffer() if self._buf else (None, None)
        self._calibrated()
        counted = self.ready and self.seen > 0
        return {"seen": self.seen, "ready": self.ready, "edges": self._tally.edges,
                **{k: v if counted else None
                   for k, v in self._tally._asdict().items() if k != "edges"},
                "buffer_x": bx, "buffer_y": by, "prefix_x": self._prefix}

    def load_state_dict(self, state: dict) -> None:
        self.seen, self.ready = int(state["seen"]), bool(state["ready"])
        empty = {"counts": 0.0, "low": torch.inf, "high": -torch.inf}
        for key, value in self._tally._asdict().items():
            if state.get(key) is None:
                value.fill_(empty[key])
            else:
                value.copy_(state[key])
        dev = self._tally.counts.device
        bx = state["buffer_x"]
        self._buf = [] if bx is None else [(bx.to(dev), state["buffer_y"].to(dev))]
        prefix = state.get("prefix_x")
        self._prefix = self._prefix[:0] if prefix is None else prefix.to(dev)


class HistogramInspector:
    """An inspector of binary and categorical columns scored from one :class:`LabelHistogram`
    per unit with edges at ``levels`` (by default ``k / bins``, k = 1 .. bins-1); subclasses
    add ``name`` and ``scores()``. Its state is the histogram's."""

    rank_by_abs = False

    def __init__(self, n_units: int, columns, device, *, bins: int, warmup: int,
                 confidence: float, levels: torch.Tensor | None = None, extents: bool = True):
        self.columns = list(columns)
        self.confidence = confidence
        if levels is None:
            levels = torch.arange(1, bins, dtype=torch.float64) / bins
        self.hist = LabelHistogram(n_units, len(self.columns), levels, warmup, device, extents)

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return hypothesis.kind in ("binary", "categorical")

    def calibrate(self, x: torch.Tensor) -> bool:
        return self.hist.calibrate(x)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.hist.update(x, y)

    @property
    def settled(self) -> bool:
        """Whether the bins' edges are set: until then a later part of the stream must wait
        for this one (the edges come from the stream's first ``warmup`` symbols)."""
        return self.hist.ready or bool(self.hist._cal)

    def fork(self, offset: int = 0) -> HistogramInspector:
        new = copy.copy(self)
        new.hist = self.hist.fork()
        return new

    def merge(self, other: HistogramInspector) -> None:
        self.hist.merge(other.hist)

    def to(self, device) -> HistogramInspector:
        self.hist.to(device)
        return self

    def state_dict(self) -> dict:
        return self.hist.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.hist.load_state_dict(state)


def _edges(sample: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per-column quantiles of ``sample`` (symbols × units) at ``levels``: units × levels."""
    if sample.shape[0] == 0:
        return torch.zeros(sample.shape[1], len(levels), device=sample.device)
    # each unit's values sorted along a contiguous row (sorting along dim 0 is ~5× slower), in
    # their own dtype; only the order statistics used are widened to float64
    s = _sort_rows(sample.T.contiguous())
    pos = levels.to(s.device) * (s.shape[1] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=s.shape[1] - 1)
    s_lo, s_hi = s[:, lo].double(), s[:, hi].double()
    e = s_lo + (pos - lo) * (s_hi - s_lo)
    return e.float().cummax(1).values.contiguous()


def _sort_rows(a: torch.Tensor) -> torch.Tensor:
    """``a`` sorted along its rows; on the CPU by numpy, whose vectorised sort is ~3× faster."""
    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(np.sort(a.detach().numpy(), axis=1))
    return a.sort(1).values


def _add(t: Tally, x: torch.Tensor, y: torch.Tensor, extents: bool = True) -> None:
    """Add the rows ``x``, ``y`` to ``t`` in bounded memory (and the extents, if asked).

    With few bins (``_DENSE_BINS``), one pass per edge: the indicator ``x > edge`` (symbols ×
    units) times the label indicators gives each unit's count of symbols above that edge, for
    all symbols and each column's positives, in one exact matrix product (int8 into int32 on
    the CPU, float32 elsewhere, exact below 2**24 rows a step); adjacent edges' counts differ
    by the bin's. With many bins (IoU, AUC), a scatter-add per positive.
    """
    if t.counts.shape[1] <= _DENSE_BINS:
        _add_dense(t, x, y, extents)
    else:
        _add_scatter(t, x, y, extents)


def _add_dense(t: Tally, x: torch.Tensor, y: torch.Tensor, extents: bool) -> None:
    if x.device.type == "cpu" and hasattr(torch, "_int_mm"):
        _add_dense_cpu(t, x, y, extents)
        return
    units, nb, nc = t.counts.shape
    edges = t.edges.T  # (nb - 1) × units
    step = max(1, min(_CHUNK // units, 1 << 24))
    for i in range(0, x.shape[0], step):
        v = x[i:i + step].to(edges.dtype)
        hits = _hits(y[i:i + step]).float()
        above = torch.empty(nb + 1, nc, units, device=x.device)
        above[0] = hits.sum(1)[:, None]
        above[nb] = 0
        bins = torch.zeros(v.shape, dtype=torch.uint8, device=x.device) if extents else None
        for k in range(nb - 1):
            mask = v > edges[k]
            if extents:
                bins += mask.view(torch.uint8)
            torch.mm(hits, mask.float(), out=above[k + 1])
        t.counts.add_((above[:-1] - above[1:]).permute(2, 0, 1))
        if extents:
            _extend(t, (bins.long() + torch.arange(units, device=x.device) * nb).view(-1), v)


def _add_dense_cpu(t: Tally, x: torch.Tensor, y: torch.Tensor, extents: bool) -> None:
    """:func:`_add_dense` on the CPU, in blocks of rows that stay in cache: numpy's compares
    (several times faster than torch's on the CPU) write each edge's indicator into one reused
    buffer, and int8 products (``torch._int_mm``: AMX or VNNI where the CPU has them) count it,
    exactly, in int32."""
    units, nb, nc = t.counts.shape
    edges = t.edges.T.contiguous().numpy()  # (nb - 1) × units
    v = x.detach().to(torch.float32).contiguous().numpy()
    hits = _hits(y).view(torch.int8)  # nc × symbols
    rows = max(1, _BLOCK // units)
    above = torch.zeros(nb + 1, nc, units, dtype=torch.int32)
    above[0] = hits.sum(1, dtype=torch.int32)[:, None]
    mask = np.empty((min(rows, len(v)), units), dtype=np.bool_)
    part = torch.empty(nc, units, dtype=torch.int32)
    bins = np.zeros(mask.shape, dtype=np.uint8) if extents else None
    for i in range(0, len(v), rows):
        block, m = v[i:i + rows], mask[:min(rows, len(v) - i)]
        h = hits[:, i:i + rows].contiguous()
        b = bins[:len(m)] if extents else None
        if extents:
            b.fill(0)
        for k in range(nb - 1):
            np.greater(block, edges[k], out=m)
            if extents:
                b += m.view(np.uint8)
            torch._int_mm(h, torch.from_numpy(m).view(torch.int8), out=part)
            above[k + 1] += part
        if extents:
            flat = torch.from_numpy(b).long() + torch.arange(units) * nb
            _extend(t, flat.view(-1), torch.from_numpy(block))
    t.counts.add_((above[:-1] - above[1:]).permute(2, 0, 1))


def _hits(y: torch.Tensor) -> torch.Tensor:
    """Columns × symbols booleans: every symbol (row 0), then each column's positives."""
    return torch.cat([torch.ones_like(y[:, :1], dtype=torch.bool), y > 0.5], 1).T.contiguous()


def _extend(t: Tally, flat_bins: torch.Tensor, v: torch.Tensor) -> None:
    """Widen each (unit, bin)'s extent by the values ``v`` in flat bins ``flat_bins``."""
    t.low.view(-1).scatter_reduce_(0, flat_bins, v.reshape(-1), "amin")
    t.high.view(-1).scatter_reduce_(0, flat_bins, v.reshape(-1), "amax")


def _add_scatter(t: Tally, x: torch.Tensor, y: torch.Tensor, extents: bool) -> None:
    units, nb, nc = t.counts.shape
    flat = t.counts.view(-1)
    offset = torch.arange(units, device=flat.device)[:, None] * nb
    hits = torch.cat([torch.ones_like(y[:, :1], dtype=torch.bool), y > 0.5], 1)
    step = max(1, int(_CHUNK * x.shape[0] / (units * hits.sum().item())))
    for i in range(0, x.shape[0], step):
        v = x[i:i + step].T.contiguous().to(t.edges.dtype)
        bins = torch.searchsorted(t.edges, v) + offset
        if extents:
            _extend(t, bins.view(-1), v)
        rows, cols = hits[i:i + step].nonzero(as_tuple=True)
        idx = (bins[:, rows] * nc + cols).view(-1)
        flat.index_add_(0, idx, flat.new_ones(1).expand(idx.shape[0]))
