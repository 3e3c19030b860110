"""Per-unit histograms of activations split by label, edges learned from the first symbols."""
from __future__ import annotations

from typing import NamedTuple

import torch

_CHUNK = 1 << 22  # at most this many (unit, symbol) indices in memory per step


class Tally(NamedTuple):
    """``edges`` (units × B-1); ``counts`` (units × B × 1+columns): column 0 counts every
    symbol, column 1+j the positives of label column j; ``low``/``high`` (units × B): the
    smallest and largest activation in each bin (±inf where empty)."""

    edges: torch.Tensor
    counts: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor


class LabelHistogram:
    """Counts of each unit's binned activation: of all symbols and of each column's positives.

    Edges: each unit's interior edges are the quantiles at ``levels`` (linear interpolation
    between order statistics, numpy's default) of its activations on the first ``warmup``
    symbols of the stream, whatever the batching; the engine visits records in a seeded random
    order, so these are a seeded sample. Until ``warmup`` symbols have been seen their rows are
    kept (``warmup × (units + columns)`` floats on the device), and :meth:`tally` bins them
    with provisional edges from all of them. Bin ``b`` holds ``(e[b-1], e[b]]`` (``e[-1] =
    -inf``, ``e[B-1] = +inf``), so the count above any edge is exact. A label is positive
    where it exceeds 0.5. Counts are float64 (exact to 2**53); states with equal edges merge
    by adding counts and taking the extremes of the extents.
    """

    def __init__(self, n_units: int, n_cols: int, levels: torch.Tensor, warmup: int, device):
        self.levels = levels.to(torch.float64)
        self.warmup = warmup
        self.seen = 0
        self.ready = False
        nb = len(levels) + 1
        self._tally = Tally(torch.zeros(n_units, nb - 1, device=device),
                            torch.zeros(n_units, nb, 1 + n_cols, dtype=torch.float64,
                                        device=device),
                            torch.full((n_units, nb), torch.inf, device=device),
                            torch.full((n_units, nb), -torch.inf, device=device))
        self._buf: list[tuple[torch.Tensor, torch.Tensor]] = []

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.shape[0] == 0:
            return
        self.seen += x.shape[0]
        if self.ready:
            _add(self._tally, x, y)
            return
        self._buf.append((x.float(), y))
        if self.seen >= self.warmup:
            bx, by = self._buffer()
            self._tally.edges.copy_(_edges(bx[:self.warmup], self.levels))
            self.ready = True
            self._buf = []
            _add(self._tally, bx, by)

    def tally(self) -> Tally:
        """The histograms so far (before ``warmup`` symbols: with provisional edges)."""
        if self.ready or not self._buf:
            return self._tally
        bx, by = self._buffer()
        t = Tally(_edges(bx, self.levels), *(torch.zeros_like(v) for v in self._tally[1:]))
        t.low.fill_(torch.inf)
        t.high.fill_(-torch.inf)
        _add(t, bx, by)
        return t

    def _buffer(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.cat([b[0] for b in self._buf]), torch.cat([b[1] for b in self._buf])

    def state_dict(self) -> dict:
        bx, by = self._buffer() if self._buf else (None, None)
        return {"seen": self.seen, "ready": self.ready, **self._tally._asdict(),
                "buffer_x": bx, "buffer_y": by}

    def load_state_dict(self, state: dict) -> None:
        self.seen, self.ready = int(state["seen"]), bool(state["ready"])
        for key, value in self._tally._asdict().items():
            value.copy_(state[key])
        dev = self._tally.counts.device
        bx = state["buffer_x"]
        self._buf = [] if bx is None else [(bx.to(dev), state["buffer_y"].to(dev))]


def _edges(sample: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Per-column quantiles of ``sample`` (symbols × units) at ``levels``: units × levels."""
    if sample.shape[0] == 0:
        return torch.zeros(sample.shape[1], len(levels), device=sample.device)
    s = sample.double().sort(0).values
    pos = levels.to(s.device) * (s.shape[0] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=s.shape[0] - 1)
    e = s[lo] + (pos - lo)[:, None] * (s[hi] - s[lo])
    return e.T.float().cummax(1).values.contiguous()


def _add(t: Tally, x: torch.Tensor, y: torch.Tensor) -> None:
    """Add the rows ``x``, ``y`` to ``t`` in bounded memory."""
    units, nb, nc = t.counts.shape
    flat = t.counts.view(-1)
    offset = torch.arange(units, device=flat.device)[:, None] * nb
    hits = torch.cat([torch.ones_like(y[:, :1], dtype=torch.bool), y > 0.5], 1)
    step = max(1, int(_CHUNK * x.shape[0] / (units * hits.sum().item())))
    for i in range(0, x.shape[0], step):
        v = x[i:i + step].T.contiguous().to(t.edges.dtype)
        bins = torch.searchsorted(t.edges, v) + offset
        t.low.view(-1).scatter_reduce_(0, bins.view(-1), v.view(-1), "amin")
        t.high.view(-1).scatter_reduce_(0, bins.view(-1), v.view(-1), "amax")
        rows, cols = hits[i:i + step].nonzero(as_tuple=True)
        idx = (bins[:, rows] * nc + cols).view(-1)
        flat.index_add_(0, idx, flat.new_ones(1).expand(idx.shape[0]))
