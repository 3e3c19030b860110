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
    has r = NaN.
    """

    name = "correlation"
    rank_by_abs = True

    def __init__(self, n_units: int, columns, device, confidence: float = 0.95):
        self.columns = list(columns)
        self.confidence = confidence
        self.moments = CoMoments(n_units, len(self.columns), device, pairs=False)

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
