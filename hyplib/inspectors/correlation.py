"""Pearson correlation of every unit with every label column, from running co-moments."""
from __future__ import annotations

import math

import torch

from ..types import Hypothesis, Scores
from .streaming import CoMoments


class Correlation:
    """Pearson r for all units × columns; categorical hypotheses as one-hot columns.

    Each batch is centred on its own means and merged into float64 running co-moments
    (:class:`~hyplib.inspectors.streaming.CoMoments`, Chan et al.'s pairwise update), so long
    streams stay exact: one matrix product per batch.
    The interval is Fisher's: ``tanh(atanh(r) ± z / sqrt(n - 3))``; a constant unit or column
    has r = NaN. Each batch's own co-moments are summed too (``moments.batch``), for a p-value
    that holds when the symbols of a record depend on each other (:mod:`hyplib.significance`).
    With ``min_effect`` δ the p-values test |ρ| <= δ instead of ρ = 0 (an effect-size floor:
    a discovery is then an association known to be stronger than δ).
    """

    name = "correlation"
    rank_by_abs = True

    def __init__(self, n_units: int, columns, device, confidence: float = 0.95,
                 min_effect: float = 0.0):
        if not 0 <= min_effect < 1:
            raise ValueError(f"min_effect is a correlation in [0, 1), e.g. 0.1, not {min_effect}")
        self.columns = list(columns)
        self.confidence, self.min_effect = confidence, min_effect
        self.moments = CoMoments(n_units, len(self.columns), device, pairs=False, batches=True)

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return True

    @property
    def n(self) -> int:
        return self.moments.n

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.moments.add(x, y)

    def scores(self) -> Scores:
        m = self.moments
        denom = torch.sqrt(torch.outer(m.xx, m.yy))
        r = torch.where(denom > 0, m.xy / denom, torch.nan).clamp(-1, 1)
        z = torch.atanh(r.clamp(-1 + 1e-12, 1 - 1e-12))
        half = _normal_quantile(self.confidence) / math.sqrt(max(self.n - 3, 1))
        n = torch.full_like(r, self.n)
        return Scores(r, torch.tanh(z - half), torch.tanh(z + half), n, metric="r")

    def state_dict(self) -> dict:
        return self.moments.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.moments.load_state_dict(state)

    def merge(self, other: "Correlation") -> None:
        self.moments.merge(other.moments)

    def to(self, device) -> "Correlation":
        self.moments.to(device)
        return self


def _normal_quantile(confidence: float) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.96 for 0.95)."""
    return math.sqrt(2) * torch.erfinv(torch.tensor(confidence, dtype=torch.float64)).item()
