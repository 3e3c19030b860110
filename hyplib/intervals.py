"""Confidence intervals for studies' figures: the percentile bootstrap over records (one matrix
of resampled indices, no loop over draws), and intervals of differences and ratios of
estimates that each carry their own interval.

An interval is a ``(low, high)`` pair of floats at 95% unless told otherwise.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

DRAWS = 2000
LEVEL = 0.95
Interval = tuple[float, float]


def resample(n: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """``draws`` × ``n`` record indices drawn with replacement (seeded)."""
    if n < 1:
        raise ValueError("cannot bootstrap an empty sample")
    return np.random.default_rng(seed).integers(0, n, (draws, n))


def percentile(samples: np.ndarray, level: float = LEVEL) -> Interval:
    """The central ``level`` range of bootstrap ``samples`` (NaN draws left out)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return math.nan, math.nan
    tail = 50 * (1 - level)
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(stat: Callable[[np.ndarray], np.ndarray], values: np.ndarray, draws: int = DRAWS,
              seed: int = 0, level: float = LEVEL) -> Interval:
    """Percentile interval of ``stat`` over records: ``values`` has one row per record and
    ``stat`` maps a (draws × records × ...) array of resampled rows to one value per draw."""
    values = np.asarray(values)
    return percentile(stat(values[resample(len(values), draws, seed)]), level)


def resampled_sums(values, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """Column sums of ``values`` (records × columns) over ``draws`` bootstrap resamples of the
    records (draws × columns): one multinomial count matrix times ``values``, so memory grows
    with draws × records, not draws × records × columns."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 1:
        raise ValueError("cannot bootstrap an empty sample")
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=draws)
    return counts @ values


def mean_interval(values, draws: int = DRAWS, seed: int = 0, level: float = LEVEL) -> Interval:
    """Bootstrap interval of the mean of per-record ``values``."""
    return bootstrap(lambda v: v.mean(axis=1), np.asarray(values, dtype=float), draws, seed,
                     level)


def paired_difference(a, b, draws: int = DRAWS, seed: int = 0,
                      level: float = LEVEL) -> Interval:
    """Bootstrap interval of mean(a) - mean(b) for two measures of the same records."""
    pairs = np.stack([np.asarray(a, dtype=float), np.asarray(b, dtype=float)], axis=1)
    return bootstrap(lambda v: v[..., 0].mean(axis=1) - v[..., 1].mean(axis=1), pairs, draws,
                     seed, level)


def difference(a: Interval, b: Interval, value: float) -> Interval:
    """Interval of ``value`` = x - y from x's interval ``a`` and y's ``b`` (each symmetric-ish
    around its estimate): half-widths add in quadrature, as for independent estimates; for
    estimates on the same records, positively correlated, this is wider than need be."""
    half = math.hypot((a[1] - a[0]) / 2, (b[1] - b[0]) / 2)
    return value - half, value + half


def spread(draws, value: float, level: float = LEVEL) -> Interval:
    """Interval of ``value`` minus a baseline known only through repeated random ``draws``
    of it (e.g. random unit sets): the range ``value - draws`` covers at ``level``."""
    return percentile(value - np.asarray(draws, dtype=float), level)
