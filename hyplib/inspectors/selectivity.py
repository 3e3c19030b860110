"""Selectivity: mean difference and Cohen's d of each unit between positive and negative symbols."""
from __future__ import annotations

import torch

from ..types import Hypothesis, Scores
from .correlation import Correlation, _normal_quantile


class Selectivity(Correlation):
    """Cohen's d (``"d"``, pooled SD) and the difference of means (``"mean_diff"``) of each
    unit between the symbols where a binary column is 1 and where it is 0 (a categorical
    hypothesis: each class against the rest).

    Both come from :class:`Correlation`'s running co-moments: with ``n1`` positives and ``n0``
    negatives, ``mean_diff = xy · n / (n1·n0)`` and the pooled variance is
    ``(xx - n1·n0/n · mean_diff²) / (n - 2)``. Intervals ``± z·SE``: for d Hedges & Olkin's
    ``SE² = n / (n1·n0) + d² / 2n``; for the difference ``SE = s_pooled·sqrt(1/n1 + 1/n0)``.
    """

    name = "selectivity"

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return hypothesis.kind in ("binary", "categorical")

    def scores(self) -> list[Scores]:
        m, n = self.moments, float(self.n)
        n1 = m.mean_y * n
        n0 = n - n1
        diff = m.xy * n / (n1 * n0)
        within = (m.xx[:, None] - n1 * n0 / n * diff * diff).clamp(min=0)
        sd = (within / (n - 2)).sqrt()
        d = torch.where(sd > 0, diff / sd, torch.nan)
        z = _normal_quantile(self.confidence)
        half_d = z * (n / (n1 * n0) + d * d / (2 * n)).sqrt()
        half_diff = z * sd * (1 / n1 + 1 / n0).sqrt()
        count = torch.full_like(d, n)
        return [Scores(d, d - half_d, d + half_d, count, "d"),
                Scores(diff, diff - half_diff, diff + half_diff, count, "mean_diff")]
