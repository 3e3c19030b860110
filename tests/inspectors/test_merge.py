"""The merge contract (hyplib.types.Inspector): for every inspector, states of a stream's parts,
forked and merged back as the Ray engine does, score as one pass over the whole stream."""
import functools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hyplib
from hyplib.inspectors import (
    AUC,
    Correlation,
    IoU,
    LinearProbe,
    MutualInfo,
    PointBiserial,
    Probe,
    Selectivity,
)
from hyplib.inspectors.streaming import Reservoir
from hyplib.results import as_list
from hyplib.significance import p_values
from hyplib.testing import check_merge, sharded

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))
R = hyplib.Hypothesis("r", lambda b: b, kind="continuous")
UNITS = 6

# each inspector with a small warm-up, so that random splits fall before, across and after it
CASES = {
    "correlation": (Correlation, B.columns + C.columns + R.columns, {}),
    "point_biserial": (PointBiserial, B.columns, {}),
    "selectivity": (Selectivity, B.columns + C.columns, {}),
    "mutual_info": (MutualInfo, B.columns + C.columns, {"warmup": 300}),
    "auc": (AUC, B.columns + C.columns, {"warmup": 300, "bins": 64}),
    "iou": (IoU, B.columns + C.columns, {"warmup": 300, "bins": 64, "quantile": 0.95,
                                          "sketch_k": 16}),
    "linear_probe": (LinearProbe, R.columns, {"holdout": 0.3}),
}
# these sum each batch in float32 blocks (hyplib.inspectors.streaming): other splits of the
# stream agree to float32 rounding, not float64's
FLOAT32_SUMS = {"correlation", "point_biserial", "selectivity"}


def _rows(n: int, seed: int, columns) -> tuple[torch.Tensor, torch.Tensor]:
    """Units carrying the labels plus noise, some discrete (ties), one constant."""
    rng = np.random.default_rng(seed)
    yb, yc, yr = rng.random(n) < 0.3, rng.integers(0, 3, n), rng.normal(size=n)
    y = np.column_stack([yb, np.eye(3)[yc], yr]).astype(np.float32)
    pick = {c: j for j, c in enumerate(B.columns + C.columns + R.columns)}
    y = y[:, [pick[c] for c in columns]]
    x = rng.normal(size=(n, UNITS)) + np.column_stack([yb, yc, yr, yb * yr, yc == 1, 0 * yr])
    x[:, 4] = np.round(x[:, 4])
    x[:, 5] = 1.0
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


splits = st.tuples(st.integers(50, 1500), st.lists(st.integers(1, 1500), max_size=5),
                   st.integers(1, 300), st.integers(0, 2 ** 16))


@pytest.mark.parametrize("name", CASES)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split=splits)
def test_merged_shards_score_as_one_pass(name, split):
    n, cuts, batch, seed = split
    cls, columns, kw = CASES[name]
    x, y = _rows(n, seed, columns)
    tol = 1e-5 if name in FLOAT32_SUMS else 1e-9
    check_merge(functools.partial(cls, UNITS, columns, "cpu", **kw), x, y, cuts, batch=batch,
                rtol=tol, atol=tol)


def test_iou_threshold_of_merged_sketches_is_within_their_bound():
    cls, columns, kw = CASES["iou"]
    x, y = _rows(4000, 3, columns)
    merged, _ = check_merge(functools.partial(cls, UNITS, columns, "cpu", **kw), x, y,
                            [700, 1500, 2600, 3100], batch=128)
    thr = merged.sketch.quantile(0.95)
    rank = (x <= thr).sum(0).double()
    assert merged.sketch.compactions > 0  # the bound is not trivially zero
    assert ((rank - 0.95 * 3999).abs() <= merged.rank_error(1e-3) + 1).all()


@settings(max_examples=6, deadline=None)
@given(split=st.tuples(st.integers(400, 1500), st.lists(st.integers(1, 1500), max_size=5),
                       st.integers(1, 300), st.integers(0, 2 ** 16)))
def test_probe_merges_its_moments_exactly_and_scores_alike(split):
    """The probe's streamed weights are averaged, so only its statistics are exact; with
    reservoirs large enough to keep every symbol, both fits see the same symbols and their
    held-out accuracies agree within their intervals."""
    n, cuts, batch, seed = split
    x, y = _rows(n, seed, B.columns + C.columns)
    make = functools.partial(Probe, UNITS, B.columns + C.columns, "cpu", train_size=2000,
                             epochs=20, k=2)
    merged, whole = sharded(make, x, y, cuts, batch=batch)
    assert merged.seen == whole.seen == n
    for key in ("mean_x", "xx"):
        torch.testing.assert_close(getattr(merged.moments, key), getattr(whole.moments, key),
                                   rtol=2e-6, atol=2e-6)  # float32 sums per block
    torch.testing.assert_close(merged.counts, whole.counts)
    for a, b in ((merged.train, whole.train), (merged.test, whole.test)):
        assert a.seen == b.seen
        rows_a, rows_b = (sorted(map(tuple, r.rows()[0].tolist())) for r in (a, b))
        assert rows_a == rows_b  # each reservoir holds all its symbols: the same set
    got, want = (next(s for s in p.scores() if s.metric == "accuracy") for p in (merged, whole))
    half = (got.high - got.low + want.high - want.low) / 2
    assert ((got.score - want.score).abs() <= half).all()


def test_reservoir_merge_is_a_uniform_sample_of_both_streams():
    hits = np.zeros(4000)
    for salt in range(300):
        a = Reservoir(200, [((1,), torch.float32)], "cpu", salt=salt)
        b = a.empty()
        rows = torch.arange(4000, dtype=torch.float32)[:, None]
        a.add(torch.arange(3000), rows[:3000])
        b.add(torch.arange(3000, 4000), rows[3000:])
        a.merge(b)
        assert a.seen == 4000 and a.rows()[0].shape == (200, 1)
        hits[a.rows()[0][:, 0].long().numpy()] += 1
    # each of the 4000 rows is kept with probability 200/4000: 15 times in 300 merges
    assert abs(hits[:3000].mean() - 15) < 0.6 and abs(hits[3000:].mean() - 15) < 1.0
    assert hits.max() < 40


@pytest.mark.parametrize("name", ["correlation", "selectivity", "mutual_info", "auc", "iou"])
def test_merged_shards_keep_the_per_batch_sums(name):
    """Cut between batches, merged shards give the p-values robust to dependence within
    records (hyplib.significance) of one pass."""
    cls, columns, kw = CASES[name]
    x, y = _rows(1200, 5, columns)
    make = functools.partial(cls, UNITS, columns, "cpu", **{**kw, "warmup": 50}
                             if "warmup" in kw else kw)
    merged, whole = sharded(make, x, y, [300, 700], batch=100)
    for a, b in zip(*(as_list(i.scores()) for i in (merged, whole))):
        pa, pb = (p_values(i, s) for i, s in ((merged, a), (whole, b)))
        assert not np.isnan(pb[:-1]).any()  # the last unit is constant
        tol = 1e-4 if name in FLOAT32_SUMS else 1e-9  # p amplifies the float32 sums' rounding
        np.testing.assert_allclose(pa, pb, rtol=tol, equal_nan=True)
