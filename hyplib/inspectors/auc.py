"""AUC-ROC and average precision of each unit as a detector of each label column."""
from __future__ import annotations

import torch

from ..types import Scores
from .correlation import _normal_quantile
from .histogram import HistogramInspector
from .streaming import BatchSums, WithBatchSums


class AUC(WithBatchSums, HistogramInspector):
    """AUC-ROC (``"auc"``) and average precision (``"ap"``) of each unit's activation as a
    score for each binary column (a categorical hypothesis: each class against the rest).

    Both are read off per-unit histograms with ``bins`` quantile bins (edges at ``k / bins``
    of the first ``warmup`` symbols, :class:`~hyplib.inspectors.histogram.LabelHistogram`),
    treating the symbols of one bin as tied, as sklearn treats equal scores. Against the
    exact values this only moves pairs within a bin: ``|AUC - exact| <= ½ Σ_b P_b N_b / PN``
    (P_b, N_b positives and negatives in bin b), about ``1 / 2·bins`` when bins hold equal
    shares. Intervals: Hanley–McNeil's standard error for the AUC, and the logit interval of
    Boyd et al. (2013), ``expit(logit AP ± z / sqrt(P·AP·(1 - AP)))``, for the AP.

    For a p-value robust to dependence within records, ``batch`` sums each batch's covariance
    of the unit's bin (its rank, to the bin) with each label, ``Σ bin·(y - ȳ)``: the
    Mann–Whitney statistic's linear part (:mod:`hyplib.significance`).
    """

    name = "auc"

    def __init__(self, n_units: int, columns, device, bins: int = 512, warmup: int = 16384,
                 confidence: float = 0.95):
        super().__init__(n_units, columns, device, bins=bins, warmup=warmup,
                         confidence=confidence)
        self.batch = BatchSums((n_units, len(self.columns)), device)

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        super().update(x, y)
        if x.shape[0] == 0:
            return
        edges = self.hist.tally().edges  # provisional until the first warmup symbols are seen
        hit = (y > 0.5).double()
        hit -= hit.mean(0)
        step = max(1, (1 << 22) // edges.shape[0])
        rank_hit = 0
        for i in range(0, x.shape[0], step):  # bounded memory: (units × step) bins at a time
            rank = torch.searchsorted(edges, x[i:i + step].T.contiguous().to(edges.dtype))
            rank_hit = rank_hit + rank.double() @ hit[i:i + step]
        self.batch.add(rank_hit)

    def scores(self) -> list[Scores]:
        counts = self.hist.tally().counts
        pos = counts[..., 1:]
        neg = counts[..., :1] - pos
        p, q = pos.sum(1), neg.sum(1)
        below = neg.cumsum(1) - neg
        auc = (pos * (below + neg / 2)).sum(1) / (p * q)
        tp, fp = (t.flip(1).cumsum(1).flip(1) for t in (pos, neg))
        ap = (pos * tp / (tp + fp).clamp(min=1)).sum(1) / p
        z = _normal_quantile(self.confidence)
        q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
        se = ((auc * (1 - auc) + (p - 1) * (q1 - auc * auc) + (q - 1) * (q2 - auc * auc))
              / (p * q)).clamp(min=0).sqrt()
        eta, tau = torch.logit(ap), z / (p * ap * (1 - ap)).sqrt()
        inside = (ap > 0) & (ap < 1)
        n = torch.full_like(auc, float(self.hist.seen))
        return [Scores(auc, (auc - z * se).clamp(0, 1), (auc + z * se).clamp(0, 1), n, "auc"),
                Scores(ap, torch.where(inside, torch.sigmoid(eta - tau), ap),
                       torch.where(inside, torch.sigmoid(eta + tau), ap), n, "ap")]
