"""Significance: a p-value for "no association" on every per-unit score, q-values over a run.

Each standard inspector's p-value is the analytic test of its own statistic, computed from the
state its scores come from (no second pass). The symbols of one record are not independent (a
unit's state and a label both persist from one character to the next), so tests that treat
them as independent samples are far too optimistic on real text. By default
(``dependence="records"``) a test is therefore made robust to any dependence within records:
it treats each batch of whole records as one independent sample (the engine visits records in
a seeded random order and updates the inspectors batch by batch), from per-batch sums each
inspector keeps. ``dependence="none"`` gives the classical tests below, valid for independent
symbols.

| inspector, metrics | robust to dependence within records | for independent symbols |
| --- | --- | --- |
| correlation ``r``, point_biserial ``r_pb``, selectivity ``d``, ``mean_diff`` | one-sample t-test, on batches − 1 df, of the batches' own co-moments ``Σ (x - x̄)(y - ȳ)`` (a cluster-robust test of the covariance) | t-test of r |
| auc ``auc``, ``ap`` | the same t-test of the batches' ``Σ bin(x)·(y - ȳ)``: the Mann–Whitney statistic's linear part, with a unit's histogram bin as its rank | Mann–Whitney U |
| mutual_info ``mi``, ``mi_plugin`` | G over the summed design effects of the cells' excess counts (estimated from the batches), referred to the worst case of its weighted χ² null: conservative | G-test |
| iou ``iou``, ``detector`` | the same t-test, one-sided, of the batches' ``Σ a·(l - l̄)``, ``a`` = above the unit's histogram edge at the IoU's quantile (set from the first symbols, a fixed stand-in for the threshold) | hypergeometric |

Each batch must hold whole records (the engine's do; a pixel-level pass cut into chunks of an
image does not). A robust test needs at least two batches (else its p is NaN), and is only as
good as the number of batches: use a ``batch_size`` that gives a few dozen. The correlation inspectors'
``min_effect`` δ turns their null into |ρ| <= δ (at its worst case, |ρ| = δ: for independent
symbols by Fisher's z). For independent symbols:

| inspector, metrics | test |
| --- | --- |
| correlation ``r``, point_biserial ``r_pb`` | t-test of Pearson's r, ``t = r·sqrt((n-2)/(1-r²))`` on n-2 df (``scipy.stats.pearsonr``) |
| selectivity ``d``, ``mean_diff`` | the pooled two-sample t-test (``scipy.stats.ttest_ind``): the same t as r_pb |
| auc ``auc``, ``ap`` | Mann–Whitney U, normal approximation with tie and continuity corrections, ties = a histogram bin (``scipy.stats.mannwhitneyu``) |
| mutual_info ``mi``, ``mi_plugin`` | G-test of independence, ``G = 2n·MI`` on ``(bins-1)(classes-1)`` df over the non-empty ones (``scipy.stats.chi2_contingency``, log-likelihood) |
| iou ``iou``, ``detector`` | the IoU's own null: with the unit's top set A and the label's set L fixed, the size of A ∩ L is hypergeometric; one-sided (``scipy.stats.hypergeom``) |

An inspector of another pack gives its own with a method ``p_values(scores) -> tensor | None``
(robust to dependence within records, or not: say which).
The probe gives its accuracy a permutation p-value when asked (``permutations``); scores
without a test (its other metrics, weights and ranks) get NaN. All tests are two-sided except
the IoU's (a detector is an excess of overlap) and the probe's.

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
DEPENDENCE = ("records", "none")


def p_values(inspector, s: Scores, dependence: str = "records") -> np.ndarray | None:
    """The p-value of each of ``s``'s scores (rows × columns, float64), or None; with
    ``dependence="records"`` robust to dependence between the symbols of a record, with
    ``"none"`` for independent symbols (see the module doc)."""
    if dependence not in DEPENDENCE:
        raise HyplibError(f"dependence must be one of {list(DEPENDENCE)}, not {dependence!r}")
    own = getattr(inspector, "p_values", None)
    if own is not None:
        p = own(s)
        return None if p is None else _numpy(p)
    key = (getattr(inspector, "name", None), s.metric)
    test = (_ROBUST if dependence == "records" else _TESTS).get(key) or _TESTS.get(key)
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


def r_test(r: np.ndarray, n: np.ndarray, delta: float = 0.0) -> np.ndarray:
    """The two-sided p-value of Pearson's ``r`` on ``n`` pairs: against ρ = 0 the t-test on
    n-2 df; against |ρ| <= ``delta`` Fisher's z at the boundary (see :func:`shifted`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if delta:
            scale = np.sqrt(n - 3)
            return shifted(np.arctanh(np.minimum(np.abs(r), 1)) * scale,
                           np.arctanh(delta) * scale, None)
        t = np.abs(r) * np.sqrt((n - 2) / (1 - r * r))
        return np.where(np.abs(r) >= 1, 0.0, 2 * stats.t.sf(t, n - 2))


def shifted(stat, shift, df: int | None) -> np.ndarray:
    """The p-value of ``|stat|`` for the null |mean| <= ``shift`` (in standard errors),
    taken at its worst case, a mean of ``shift``: ``P(T > |stat| - shift) + P(T > |stat| +
    shift)`` for T a standard normal (``df`` None) or Student t on ``df``; 0 when ``stat`` is
    infinite."""
    dist = stats.norm() if df is None else stats.t(df)
    stat = np.abs(stat)
    with np.errstate(invalid="ignore"):
        p = np.minimum(dist.sf(stat - shift) + dist.sf(stat + shift), 1)
    return np.where(np.isinf(stat), 0.0, p)


def batch_t_test(sums, norm: torch.Tensor | None = None, delta: float = 0.0) -> np.ndarray:
    """The p-value of the one-sample t-test, on batches - 1 df, that per-batch values
    (:class:`~hyplib.inspectors.streaming.BatchSums`) sum to 0, or with ``delta``, to at most
    ``delta · norm`` in absolute value; NaN under 2 batches."""
    se, df = sums.se()
    if df < 1:
        return _numpy(se)
    shift = 0.0 if not delta else _numpy(delta * norm / se)
    return shifted(_numpy(sums.total / se), shift, df)


def _robust_covariance(inspector, s: Scores) -> np.ndarray:
    m = inspector.moments
    return batch_t_test(m.batch, torch.outer(m.xx, m.yy).sqrt(), _delta(inspector))


def _robust_rank(inspector, s: Scores) -> np.ndarray:
    return batch_t_test(inspector.batch)


def _robust_overlap(inspector, s: Scores) -> np.ndarray:
    """One-sided (a detector is an excess of overlap): P(T > t) on batches - 1 df."""
    se, df = inspector.batch.se()
    if df < 1:
        return _numpy(se)
    t = _numpy(inspector.batch.total / se)
    with np.errstate(invalid="ignore"):
        return np.where(np.isposinf(t), 0.0, stats.t.sf(t, df))


def _delta(inspector) -> float:
    return float(getattr(inspector, "min_effect", 0.0))


def _correlation(inspector, s: Scores) -> np.ndarray:
    return r_test(_numpy(s.score), _numpy(s.n), _delta(inspector))


def _selectivity(inspector, s: Scores) -> np.ndarray:
    m = inspector.moments
    r = _numpy(m.xy / torch.sqrt(torch.outer(m.xx, m.yy)))
    return r_test(np.clip(r, -1, 1), float(m.n), _delta(inspector))


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


def _by_class(inspector, cells: torch.Tensor) -> torch.Tensor:
    """(units × bins × hypotheses × classes) from cells (units × bins × 2·columns+1): each
    column's positives, each column's negatives, and an empty cell."""
    classes = inspector.classes
    return cells[..., classes.view(-1)].view(cells.shape[0], cells.shape[1], *classes.shape)


def _g(inspector) -> tuple[torch.Tensor, ...]:
    """G, its degrees of freedom, and the joint table with its margins."""
    joint, n, px, py = inspector.table()
    g = 2 * torch.where(joint > 0, joint * (joint * n / (px * py)).log(), 0.0).sum((1, 3))
    df = (((px > 0).sum((1, 3)) - 1) * ((py > 0).sum((1, 3)) - 1)).double()
    return g, df, n, px, py


def _chi2(g, df) -> np.ndarray:
    g, df = _numpy(g), _numpy(df)
    with np.errstate(invalid="ignore"):
        return np.where(df > 0, stats.chi2.sf(np.maximum(g, 0), np.maximum(df, 1)), 1.0)


def _once_per_table(test):
    """``test`` run once per state of a mutual-information inspector: both of its metrics
    (``mi``, ``mi_plugin``) have the same G, so the second reads the first's p-values."""
    def memo(inspector, s: Scores) -> np.ndarray:
        joint = inspector.table()[0]  # a new table whenever the state changed
        kept = inspector.__dict__.get("_p_memo", {})
        if kept.get(test.__name__, (None,))[0] is not joint:
            kept = {**kept, test.__name__: (joint, test(inspector, s))}
            inspector._p_memo = kept
        return kept[test.__name__][1].copy()
    return memo


@_once_per_table
def _g_test(inspector, s: Scores) -> np.ndarray:
    g, df, *_ = _g(inspector)
    return _chi2(g, df)


@_once_per_table
def _robust_g_test(inspector, s: Scores) -> np.ndarray:
    """Under independence a cell's excess count ``N_ij - N_i·N_·j/n`` has variance
    ``n·p_i(1-p_i)·p_j(1-p_j)`` for independent symbols, and G is about ``Σ_k λ_k·χ²_1`` with
    ``Σ_k λ_k = Σ_ij V_ij / (n·p_i·p_j)`` (Rao & Scott), ``V_ij`` the cell's variance: here
    the sum over batches of the batch's squared excess. The λ_k are not known one by one (a
    unit that persists within records puts most of the sum on a few), so G is referred to the
    worst case, ``Σλ·χ²_1``, whose tail bounds the sum's for p <= 0.215 (Székely & Bakirov
    2003); with Σλ estimated from the batches, ``G / Σλ`` is referred to F(1, batches - 1).
    The test is conservative: it holds its level, and its p-values are not uniform."""
    g, df, n, px, py = _g(inspector)
    sums = inspector.batch
    if sums.batches < 2:
        return np.full(tuple(g.shape), np.nan)
    v = sums.squares  # units × bins × columns: the positives'; the negatives' excess is minus it
    v = _by_class(inspector, torch.cat([v, v, torch.zeros_like(v[..., :1])], 2))
    trace = torch.where((px > 0) & (py > 0), v * n / (px * py), 0.0).sum((1, 3))
    f = _numpy(torch.where(trace > 0, g.clamp(min=0) / trace, 0.0))
    return np.where(_numpy(df) > 0, stats.f.sf(f, 1, sums.batches - 1), 1.0)


def _hypergeometric(inspector, s: Scores) -> np.ndarray:
    iou = inspector.scores()[0].score if s.metric == "detector" else s.score
    _, _, _, _, a_bin, above, total, _ = inspector._split()
    # |A| is whole but for the threshold bin's share above the threshold's rank: round it
    size_a, size_l = np.rint(_numpy(above[:, :1] + a_bin)), _numpy(total[:, 1:])
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
_ROBUST = {("correlation", "r"): _robust_covariance, ("point_biserial", "r_pb"): _robust_covariance,
           ("selectivity", "d"): _robust_covariance,
           ("selectivity", "mean_diff"): _robust_covariance,
           ("auc", "auc"): _robust_rank, ("auc", "ap"): _robust_rank,
           ("mutual_info", "mi"): _robust_g_test, ("mutual_info", "mi_plugin"): _robust_g_test,
           ("iou", "iou"): _robust_overlap, ("iou", "detector"): _robust_overlap}


def look_share(look: int) -> float:
    """The share of α spent at early-stopping look ``look`` (1, 2, ...): ``1 / look(look+1)``,
    which sums to 1 over all looks."""
    return 1.0 / (look * (look + 1))


def spent_confidence(confidence: float, look: int) -> float:
    """The confidence of an interval at look ``look`` so that all looks together hold
    ``confidence`` (Bonferroni over the looks: an alpha-spending schedule)."""
    return 1 - (1 - confidence) * look_share(look)
