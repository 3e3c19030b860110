"""Mutual information between each quantile-binned unit and each binary or categorical label."""
from __future__ import annotations

import math

import torch

from ..types import Hypothesis, LabelColumn, Scores
from .correlation import _normal_quantile
from .histogram import HistogramInspector
from .streaming import BatchSums, WithBatchSums


class MutualInfo(WithBatchSums, HistogramInspector):
    """MI in nats between each unit, cut into ``bins`` quantile bins, and each hypothesis.

    A categorical hypothesis gives one MI across its classes (one score column per
    hypothesis). Bin edges: the unit's quantiles at ``k / bins`` (k = 1 .. bins-1) of the first
    ``warmup`` symbols (:class:`~hyplib.inspectors.histogram.LabelHistogram`, without the
    bins' extents, which MI does not use); the joint histogram (units × bins × classes) is
    exact after that. Metric ``"mi"`` is the Miller–Madow estimate, the plug-in MI plus
    ``(m_x + m_y - m_xy - 1) / 2n`` with ``m`` the non-empty cells of each margin and of the
    joint; ``"mi_plugin"`` is the plug-in MI. Both have the interval ``± z·sqrt(v)`` with
    ``v`` the larger of the delta-method variance ``(E[pmi²] - MI²) / n``
    (``pmi = log p(x,y) / p(x)p(y)``) and the plug-in's variance under independence,
    ``(m_x - 1)(m_y - 1) / 2n²`` (from ``2n·MI ~ χ²``), so that an uninformative unit does not
    get a zero-width interval; at MI = 0 it is conservative (it holds 0 for about 99% of
    independent units).

    For a G-test robust to dependence within records, ``batch`` sums, per unit, bin and
    column, the square of each batch's excess of positives in the bin over independence,
    ``pos - total·P/n``: the cells' design effects (:mod:`hyplib.significance`).
    """

    name = "mutual_info"

    def __init__(self, n_units: int, columns, device, bins: int = 16, warmup: int = 16384,
                 confidence: float = 0.95):
        super().__init__(n_units, columns, device, bins=bins, warmup=warmup,
                         confidence=confidence, extents=False)
        self.hyp_columns, self.classes = _class_table(self.columns, device)
        self.batch = BatchSums((n_units, bins, len(self.columns)), device)
        self._table = None

    def table(self) -> tuple[torch.Tensor, ...]:
        """The joint counts (units × bins × hypotheses × classes), their total and both
        margins (keepdim): built once per state, for the scores and both metrics' p-values
        (:mod:`hyplib.significance`); any change of the state drops it."""
        if self._table is None:
            counts = self.hist.tally().counts
            total, pos = counts[..., :1], counts[..., 1:]
            cells = torch.cat([pos, total - pos, torch.zeros_like(total)], 2)
            units, nb, _ = cells.shape
            joint = cells[..., self.classes.view(-1)].view(units, nb, *self.classes.shape)
            self._table = (joint, joint.sum((1, 3), keepdim=True), joint.sum(3, keepdim=True),
                           joint.sum(1, keepdim=True))
        return self._table

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self._table = None
        counts = self.hist.tally().counts if self.hist.ready else None
        before = None if counts is None else counts.clone()
        super().update(x, y)
        if not self.hist.ready:
            return  # the rows wait for the edges; they are counted, one batch, when set
        new = self.hist.tally().counts
        new = new if before is None else new - before
        total, pos = new[..., :1], new[..., 1:]
        n = total.sum(1, keepdim=True)
        if float(n.max()) > 0:
            self.batch.add(pos - total * pos.sum(1, keepdim=True) / n.clamp(min=1))

    def fork(self, offset: int = 0):
        new = super().fork(offset)
        new._table = None
        return new

    def merge(self, other) -> None:
        self._table = None
        super().merge(other)

    def to(self, device):
        self._table = None
        return super().to(device)

    def load_state_dict(self, state: dict) -> None:
        self._table = None
        super().load_state_dict(state)

    def scores(self) -> list[Scores]:
        joint, _, px, py = self.table()
        n = float(self.hist.seen)
        nn = max(n, 1.0)
        pmi = torch.where(joint > 0, (joint * n / (px * py)).log(), 0.0)
        p = joint / nn
        mi = (p * pmi).sum((1, 3))
        m_xy, m_x, m_y = ((t > 0).sum((1, 3)).double() for t in (joint, px, py))
        var = torch.maximum(((p * pmi * pmi).sum((1, 3)) - mi * mi) / nn,
                            (m_x - 1) * (m_y - 1) / (2 * nn * nn))
        half = _normal_quantile(self.confidence) * var.clamp(min=0).sqrt()
        mm = mi + (m_x + m_y - m_xy - 1) / (2 * nn)
        if n == 0:
            mm = mi = torch.full_like(mi, math.nan)
        count = torch.full_like(mi, n)
        return [Scores(mm, mm - half, mm + half, count, "mi", columns=self.hyp_columns),
                Scores(mi, mi - half, mi + half, count, "mi_plugin", columns=self.hyp_columns)]


def _class_table(columns: list[LabelColumn], device) -> tuple[list[LabelColumn], torch.Tensor]:
    """One score column per hypothesis, and the class table (hypotheses × classes) indexing
    the cells ``[positives of each column, negatives of each column, zero]``."""
    c = len(columns)
    groups: dict[Hypothesis, list[int]] = {}
    for j, col in enumerate(columns):
        groups.setdefault(col.hypothesis, []).append(j)
    width = max([2] + [len(js) for js in groups.values()])
    table, heads = [], []
    for h, js in groups.items():
        classes = [c + js[0], js[0]] if h.kind == "binary" else js
        table.append(classes + [2 * c] * (width - len(classes)))
        heads.append(LabelColumn(h, None, ""))
    return heads, torch.tensor(table, device=device).view(len(table), width)
