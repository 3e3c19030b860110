"""Significance: a p-value for "no association" on every per-unit score, q-values over a run.

Each standard inspector's p-value is the analytic test of its own statistic, computed from the
state its scores come from (no second pass):

| inspector, metrics | test |
| --- | --- |
| correlation ``r``, point_biserial ``r_pb`` | t-test of Pearson's r, ``t = r·sqrt((n-2)/(1-r²))`` on n-2 df (``scipy.stats.pearsonr``) |
| selectivity ``d``, ``mean_diff`` | the pooled two-sample t-test (``scipy.stats.ttest_ind``): the same t as r_pb |
| auc ``auc``, ``ap`` | Mann–Whitney U, normal approximation with tie and continuity corrections, ties = a histogram bin (``scipy.stats.mannwhitneyu``) |
| mutual_info ``mi``, ``mi_plugin`` | G-test of independence, ``G = 2n·MI`` on ``(bins-1)(classes-1)`` df over the non-empty ones (``scipy.stats.chi2_contingency``, log-likelihood) |
| iou ``iou``, ``detector`` | the IoU's own null: with the unit's top set A and the label's set L fixed, the size of A ∩ L is hypergeometric; one-sided (``scipy.stats.hypergeom``) |

An inspector of another pack gives its own with a method ``p_values(scores) -> tensor | None``.
Scores without a test (a probe's accuracy, weights and ranks) get NaN. All tests are two-sided
except the IoU's (a detector is an excess of overlap).

q-values: Benjamini–Hochberg (``"bh"``) or, valid under any dependence, Benjamini–Yekutieli
(``"by"``), over the family of every score with a p-value in the run. Keeping the rows with
``q <= α`` controls the expected share of false discoveries among them at α.

Early stopping (:mod:`hyplib.stopping`) spends a share ``w`` of α at the look where it stops;
the p-values it reports are then ``min(1, p / w)``, valid at that data-dependent stop.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from .errors import HyplibError
from .types import Scores

FDR_METHODS = ("bh", "by")


def p_values(inspector, s: Scores) -> np.ndarray | None:
    """The p-value of each of ``s``'s scores (rows × columns, float64), or None."""
    own = getattr(inspector, "p_values", None)
    if own is not None:
        p = own(s)
        return None if p is None else _numpy(p)
    test = _TESTS.get((getattr(inspector, "name", None), s.metric))
    return None if test is None else test(inspector, s)


def q_values(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """Benjamini–Hochberg (or –Yekutieli, ``"by"``) adjusted p-values; NaN stays NaN and is
    not counted as a test."""
    if method not in FDR_METHODS:
        raise HyplibError(f"the FDR method must be one of {list(FDR_METHODS)}, not {method!r}")
    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = len(tested)
    if m == 0:
        return q
    order = tested[np.argsort(p[tested], kind="stable")]
    scale = m / np.arange(1, m + 1)
    if method == "by":
        scale *= np.sum(1.0 / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate((p[order] * scale)[::-1])[::-1]
    q[order] = np.minimum(adjusted, 1.0)
    return q


def _numpy(t) -> np.ndarray:
    return t.detach().double().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def r_test(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The two-sided p-value of Pearson's ``r`` on ``n`` pairs (t-test on n-2 df)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(r) * np.sqrt((n - 2) / (1 - r * r))
        return np.where(np.abs(r) >= 1, 0.0, 2 * stats.t.sf(t, n - 2))


def _correlation(inspector, s: Scores) -> np.ndarray:
    return r_test(_numpy(s.score), _numpy(s.n))


def _selectivity(inspector, s: Scores) -> np.ndarray:
    m = inspector.moments
    r = _numpy(m.xy / torch.sqrt(torch.outer(m.xx, m.yy)))
    return r_test(np.clip(r, -1, 1), float(m.n))


def _mann_whitney(inspector, s: Scores) -> np.ndarray:
    counts = inspector.hist.tally().counts
    total, pos = counts[..., :1], counts[..., 1:]
    neg = total - pos
    n1, n0 = pos.sum(1), neg.sum(1)
    u = (pos * (neg.cumsum(1) - neg / 2)).sum(1)
    n = n1 + n0
    ties = (total ** 3 - total).sum(1)
    var = n1 * n0 / 12 * ((n + 1) - ties / (n * (n - 1)))
    z = ((u - n1 * n0 / 2).abs() - 0.5) / var.sqrt()
    return np.clip(2 * stats.norm.sf(_numpy(z)), 0, 1)


def _g_test(inspector, s: Scores) -> np.ndarray:
    counts = inspector.hist.tally().counts
    total, pos = counts[..., :1], counts[..., 1:]
    cells = torch.cat([pos, total - pos, torch.zeros_like(total)], 2)
    classes = inspector.classes
    joint = cells[..., classes.view(-1)].view(cells.shape[0], cells.shape[1], *classes.shape)
    n = joint.sum((1, 3), keepdim=True)
    px, py = joint.sum(3, keepdim=True), joint.sum(1, keepdim=True)
    g = 2 * torch.where(joint > 0, joint * (joint * n / (px * py)).log(), 0.0).sum((1, 3))
    df = (((px > 0).sum((1, 3)) - 1) * ((py > 0).sum((1, 3)) - 1)).double()
    g, df = _numpy(g), _numpy(df)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.chi2.sf(np.maximum(g, 0), np.maximum(df, 1)), 1.0)


def _hypergeometric(inspector, s: Scores) -> np.ndarray:
    iou = inspector.scores()[0].score if s.metric == "detector" else s.score
    _, _, _, _, a_bin, above, total, _ = inspector._split()
    size_a, size_l = _numpy(above[:, :1] + a_bin), _numpy(total[:, 1:])
    iou = _numpy(iou)
    inter = np.rint(iou * (size_a + size_l) / (1 + iou))
    n = float(inspector.hist.seen)
    return stats.hypergeom.sf(inter - 1, n, np.broadcast_to(size_l, inter.shape),
                              np.broadcast_to(size_a, inter.shape))


_TESTS = {("correlation", "r"): _correlation, ("point_biserial", "r_pb"): _correlation,
          ("selectivity", "d"): _selectivity, ("selectivity", "mean_diff"): _selectivity,
          ("auc", "auc"): _mann_whitney, ("auc", "ap"): _mann_whitney,
          ("mutual_info", "mi"): _g_test, ("mutual_info", "mi_plugin"): _g_test,
          ("iou", "iou"): _hypergeometric, ("iou", "detector"): _hypergeometric}


def look_share(look: int) -> float:
    """The share of α spent at early-stopping look ``look`` (1, 2, ...): ``1 / look(look+1)``,
    which sums to 1 over all looks."""
    return 1.0 / (look * (look + 1))


def spent_confidence(confidence: float, look: int) -> float:
    """The confidence of an interval at look ``look`` so that all looks together hold
    ``confidence`` (Bonferroni over the looks: an alpha-spending schedule)."""
    return 1 - (1 - confidence) * look_share(look)
