"""Bootstrap intervals cover what they claim, and combine as documented."""
import math

import numpy as np
import pytest

from hyplib.intervals import (
    bootstrap,
    difference,
    mean_interval,
    paired_difference,
    percentile,
    resample,
    resampled_sums,
    spread,
)


def test_mean_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    p, hits, trials = 0.7, 0, 300
    for t in range(trials):
        low, high = mean_interval(rng.random(200) < p, draws=1000, seed=t)
        hits += low <= p <= high
    assert 0.91 <= hits / trials <= 0.985


def test_paired_difference_covers_and_pairs():
    rng = np.random.default_rng(2)
    hits, trials = 0, 200
    for t in range(trials):
        base = rng.normal(size=150)
        a, b = base + rng.normal(0.3, 0.5, 150), base + rng.normal(0.0, 0.5, 150)
        low, high = paired_difference(a, b, draws=1000, seed=t)
        hits += low <= 0.3 <= high
    assert 0.9 <= hits / trials <= 0.99
    # pairing removes the shared record effect: far narrower than the unpaired spread
    low, high = paired_difference(base + 1e-3, base)
    assert high - low < 1e-9 and low == pytest.approx(1e-3)


def test_bootstrap_applies_a_vectorised_statistic():
    values = np.arange(10.0)
    low, high = bootstrap(lambda v: v.max(axis=1), values, draws=500)
    assert 5 <= low <= high == 9
    assert resample(4, draws=3, seed=0).shape == (3, 4)
    with pytest.raises(ValueError, match="empty"):
        resample(0)
    assert all(math.isnan(x) for x in percentile(np.array([math.nan])))


def test_difference_and_spread():
    low, high = difference((0.4, 0.6), (0.1, 0.3), 0.3)
    assert (low, high) == pytest.approx((0.3 - math.hypot(0.1, 0.1), 0.3 + math.hypot(0.1, 0.1)))
    low, high = spread(np.linspace(0.0, 1.0, 101), 2.0)
    assert low == pytest.approx(2.0 - 0.975) and high == pytest.approx(2.0 - 0.025)


def test_resampled_sums_match_resampled_rows_in_distribution():
    values = np.column_stack([np.ones(50), np.arange(50.0)])
    sums = resampled_sums(values, draws=4000, seed=3)
    assert (sums[:, 0] == 50).all()  # every resample has n records
    assert sums[:, 1].mean() == pytest.approx(values[:, 1].sum(), rel=0.01)
    assert sums[:, 1].std() == pytest.approx(np.sqrt(50) * values[:, 1].std(), rel=0.05)
