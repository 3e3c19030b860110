"""The regression probe: elastic-net linear regression of continuous hypotheses on all units of
a layer, fitted exactly from running co-moments and scored on held-out symbols (split as the
classification probe's, :mod:`.probe`)."""
from __future__ import annotations

import copy
import math

import torch

from ..types import Hypothesis, LabelColumn, Scores
from .probe import FittedScores, _group
from .ranking import random_units, rank_units
from .streaming import CoMoments, held_out


class LinearProbe(FittedScores):
    """Elastic-net linear regression of each continuous hypothesis on all units (group "all").

    The fit is exact and needs no reservoir: training and held-out symbols each keep running
    co-moments (units × units, float64), and ``scores()`` solves, on standardised units and
    target, ½βᵀRβ − βᵀr + ``l2``·‖β‖² + ``l1``·‖β‖₁ (sklearn's ``ElasticNet`` on standardised
    data with ``alpha·l1_ratio = l1``, ``alpha·(1 − l1_ratio)/2 = l2``): by a linear solve when
    ``l1 = 0`` (ridge, the default), else by ``iterations`` of FISTA from the ridge solution.

    Metrics on held-out symbols: ``r2`` (1 − residual / total sum of squares, exact from the
    held-out co-moments) with a delta-method interval for the ratio MSE / Var(y) under normal
    fourth moments; per unit ``weight``, ``rank``, ``selected`` as for :class:`Probe`; and
    ``r2_top{k}`` / ``r2_random{k}`` for the regression refitted on only those ``k`` units.
    """

    name = "linear_probe"
    rank_by_abs = False

    def __init__(self, n_units: int, columns, device, *, l1: float = 0.0, l2: float = 1e-5,
                 iterations: int = 500, holdout: float = 0.2, k: int = 10, mass: float = 0.5,
                 confidence: float = 0.95, seed: int = 0):
        self.columns = list(columns)
        wrong = list(dict.fromkeys(c.hypothesis.name for c in self.columns
                                   if not self.accepts(c.hypothesis)))
        if wrong or not self.columns:
            raise ValueError(f"the linear probe takes continuous hypotheses, not {wrong} "
                             f"(binary and categorical ones go to probe)")
        if l2 <= 0:
            raise ValueError(f"the linear probe needs l2 > 0 to solve stably, not {l2}")
        self.device = torch.device(device)
        self.n_units, self.k = n_units, min(k, n_units)
        self.l1, self.l2, self.iterations = l1, l2, iterations
        self.holdout, self.mass, self.seed = holdout, mass, seed
        self.confidence = confidence
        self.seen = 0
        self.train = CoMoments(n_units, len(self.columns), self.device)
        self.test = CoMoments(n_units, len(self.columns), self.device)
        self._cache = None

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return hypothesis.kind == "continuous"

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        self._cache = None
        test = held_out(torch.arange(self.seen, self.seen + nb, device=x.device), self.seed,
                        self.holdout)
        self.seen += nb
        self.test.add(x[test], y[test])
        self.train.add(x[~test], y[~test])

    def _scores(self) -> list[Scores]:
        tr, n_hyp = self.train, len(self.columns)
        n = max(tr.n, 1)
        sx, sy = (tr.xx.diagonal() / n).sqrt(), (tr.yy / n).sqrt()
        sx, sy = torch.where(sx > 0, sx, 1.0), torch.where(sy > 0, sy, 1.0)
        corr, target = tr.xx / (n * torch.outer(sx, sx)), tr.xy / (n * torch.outer(sx, sy))
        beta = self._solve(corr[None], target[None])[0]
        rank = rank_units(beta[:, :, None], torch.ones(n_hyp, 1, dtype=torch.bool,
                                                       device=self.device), self.mass)
        idx = torch.cat([rank.order[:self.k].T,
                         random_units(self.n_units, n_hyp, self.k, self.seed, self.device)])
        twice = torch.arange(n_hyp, device=self.device).repeat(2)
        sub = self._solve(corr[idx[:, :, None], idx[:, None, :]],
                          target[idx, twice[:, None]].unsqueeze(-1))
        beta_sub = torch.zeros(2 * n_hyp, self.n_units, dtype=torch.float64, device=self.device)
        beta_sub = beta_sub.scatter_(1, idx, sub[..., 0]).T
        cols = [LabelColumn(c.hypothesis, None, "") for c in self.columns]
        n_test = torch.full((1, n_hyp), float(self.test.n), dtype=torch.float64,
                            device=self.device)
        n_train = torch.full((self.n_units, n_hyp), float(tr.n), device=self.device)
        r2 = self._r2(beta, torch.arange(n_hyp, device=self.device), sx, sy)
        r2_sub = self._r2(beta_sub, twice, sx, sy)
        z = self.z
        return [_group("r2", r2[0], r2[0] - z * r2[1], r2[0] + z * r2[1], n_test, cols),
                *(_group(f"r2_{name}{self.k}", est, est - z * se, est + z * se, n_test, cols,
                         f"{name}{self.k}")
                  for name, est, se in (("top", r2_sub[0][:n_hyp], r2_sub[1][:n_hyp]),
                                        ("random", r2_sub[0][n_hyp:], r2_sub[1][n_hyp:]))),
                Scores(rank.share, rank.share, rank.share, n_train, "weight", None, cols),
                *(Scores(v.double(), v.double(), v.double(), n_train, metric, None, cols)
                  for metric, v in (("rank", rank.rank), ("selected", rank.selected)))]

    def _solve(self, corr: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """β for a batch of (m × m) unit correlations and (m × c) unit-target correlations."""
        a = corr + 2 * self.l2 * torch.eye(corr.shape[-1], dtype=corr.dtype, device=corr.device)
        beta = torch.linalg.solve(a, target)
        if self.l1 == 0:
            return beta
        step = 1 / torch.linalg.eigvalsh(a)[..., -1:, None]
        z, t = beta, 1.0
        for _ in range(self.iterations):
            u = z - step * (a @ z - target)
            new = u.sign() * (u.abs() - step * self.l1).clamp_min(0)
            t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
            z, beta, t = new + (t - 1) / t_next * (new - beta), new, t_next
        return beta

    def _r2(self, beta, cols, sx, sy) -> tuple[torch.Tensor, torch.Tensor]:
        """Held-out R² of the predictors ``beta`` (standardised units × ``cols``) and its s.e."""
        tr, te = self.train, self.test
        w = beta * sy[cols] / sx[:, None]
        bias = (te.mean_y[cols] - (w * te.mean_x[:, None]).sum(0)
                - tr.mean_y[cols] + (w * tr.mean_x[:, None]).sum(0))
        xy, yy, n = (w * te.xy[:, cols]).sum(0), te.yy[cols], te.n
        var_e = (yy - 2 * xy + ((te.xx @ w) * w).sum(0)) / n
        cov, var_y = (yy - xy) / n, yy / n
        mse = var_e + bias ** 2
        var_ratio = (2 * var_e ** 2 + 4 * bias ** 2 * var_e) / var_y ** 2 \
            - 4 * mse * cov ** 2 / var_y ** 3 + 2 * mse ** 2 / var_y ** 2
        return 1 - mse / var_y, (var_ratio.clamp_min(0) / n).sqrt()

    def state_dict(self) -> dict:
        return {"seen": self.seen, "train": self.train.state_dict(),
                "test": self.test.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.seen = int(state["seen"])
        self.train.load_state_dict(state["train"])
        self.test.load_state_dict(state["test"])
        self._cache = None

    def fork(self, offset: int) -> LinearProbe:
        """An empty probe for the part of the stream from symbol ``offset`` on (its held-out
        split hashes the global positions)."""
        new = copy.copy(self)
        new.seen, new._cache = offset, None
        new.train, new.test = self.train.empty(), self.test.empty()
        return new

    def merge(self, other: LinearProbe) -> None:
        """Add a later part of the stream: both co-moments exactly."""
        self.seen = max(self.seen, other.seen)
        self.train.merge(other.train)
        self.test.merge(other.test)
        self._cache = None

    def to(self, device) -> LinearProbe:
        self.device = torch.device(device)
        self.train.to(device)
        self.test.to(device)
        self._cache = None
        return self
