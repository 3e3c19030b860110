"""Pearson correlation of every unit with every label column, from running co-moments."""
from __future__ import annotations

import math

import torch

from hyplib.types import Hypothesis, Scores

from .streaming import float64_copy


class Correlation:
    """Pearson r for all units × columns; categorical hypotheses as one-hot columns.

    Each batch is centred on its own means and merged into float64 running co-moments
    (Chan et al.'s pairwise update), so long streams stay exact: one matrix product per batch.
    The interval is Fisher's: ``tanh(atanh(r) ± z / sqrt(n - 3))``; a constant unit or column
    has r = NaN.
    """

    name = "correlation"
    rank_by_abs = True

    def __init__(self, n_units: int, columns, device, confidence: float = 0.95):
        self.columns = list(columns)
        self.confidence = confidence
        kw = {"dtype": torch.float64, "device": device}
        self.n = 0
        self.mean_x = torch.zeros(n_units, **kw)
        self.mean_y = torch.zeros(len(self.columns), **kw)
        self.m2_x = torch.zeros(n_units, **kw)
        self.m2_y = torch.zeros(len(self.columns), **kw)
        self.c_xy = torch.zeros(n_units, len(self.columns), **kw)

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return True

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        dx = float64_copy(x)
        mx = dx.mean(0)
        dx.sub_(mx)
        y = y.double()
        my = y.mean(0)
        dy = y - my
        n = self.n + nb
        ex, ey = mx - self.mean_x, my - self.mean_y
        w = self.n * nb / n
        self.c_xy += dx.T @ dy + torch.outer(ex, ey) * w
        self.m2_x += dx.square_().sum(0) + ex * ex * w
        self.m2_y += (dy * dy).sum(0) + ey * ey * w
        self.mean_x += ex * (nb / n)
        self.mean_y += ey * (nb / n)
        self.n = n

    def scores(self) -> Scores:
        denom = torch.sqrt(torch.outer(self.m2_x, self.m2_y))
        r = torch.where(denom > 0, self.c_xy / denom, torch.nan).clamp(-1, 1)
        z = torch.atanh(r.clamp(-1 + 1e-12, 1 - 1e-12))
        half = _normal_quantile(self.confidence) / math.sqrt(max(self.n - 3, 1))
        n = torch.full_like(r, self.n)
        return Scores(r, torch.tanh(z - half), torch.tanh(z + half), n, metric="r")

    def state_dict(self) -> dict:
        return {"n": self.n, "mean_x": self.mean_x, "mean_y": self.mean_y, "m2_x": self.m2_x,
                "m2_y": self.m2_y, "c_xy": self.c_xy}

    def load_state_dict(self, state: dict) -> None:
        self.n = int(state["n"])
        for key in ("mean_x", "mean_y", "m2_x", "m2_y", "c_xy"):
            getattr(self, key).copy_(state[key])


def _normal_quantile(confidence: float) -> float:
    """The two-sided standard-normal quantile for ``confidence`` (1.96 for 0.95)."""
    return math.sqrt(2) * torch.erfinv(torch.tensor(confidence, dtype=torch.float64)).item()
