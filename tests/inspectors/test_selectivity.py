"""Selectivity inspector: Cohen's d and mean difference equal a direct computation, stream
exactly, save and restore, and the interval for d covers the truth."""
import numpy as np
import pytest
import torch

import hyplib
from hyplib.inspectors import Selectivity

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))
COLS = B.columns + C.columns


def _data(seed=0, n=3000, units=8, offset=1e4):
    rng = np.random.default_rng(seed)
    yb = rng.random(n) < 0.2
    yc = rng.integers(0, 3, n)
    y = np.column_stack([yb, np.eye(3)[yc]]).astype(np.float32)
    x = rng.normal(size=(n, units)) * rng.uniform(0.5, 2, units) + y @ rng.normal(size=(4, units))
    return (x + offset).astype(np.float32), y


def _stream(x, y, batch, cls=Selectivity):
    insp = cls(x.shape[1], COLS, "cpu")
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


def _direct(x, y):
    """Mean difference, pooled SD and Cohen's d per unit × column, in float64 numpy."""
    x = x.astype(np.float64)
    out = np.zeros((3, x.shape[1], y.shape[1]))
    for c in range(y.shape[1]):
        a, b = x[y[:, c] > 0.5], x[y[:, c] < 0.5]
        sd = np.sqrt(((len(a) - 1) * a.var(0, ddof=1) + (len(b) - 1) * b.var(0, ddof=1))
                     / (len(a) + len(b) - 2))
        out[:, :, c] = a.mean(0) - b.mean(0), sd, (a.mean(0) - b.mean(0)) / sd
    return out


@pytest.mark.parametrize("batch", [1, 7, 3000])
def test_equals_direct_cohens_d(batch):
    x, y = _data()
    diff, _, d = _direct(x, y)
    d_s, diff_s = _stream(x, y, batch).scores()
    assert (d_s.metric, diff_s.metric) == ("d", "mean_diff")
    np.testing.assert_allclose(d_s.score.numpy(), d, atol=1e-6)
    np.testing.assert_allclose(diff_s.score.numpy(), diff, atol=1e-5)
    assert (d_s.n == 3000).all()


def test_intervals_are_hedges_olkin_and_pooled():
    x, y = _data(n=400)
    diff, sd, d = _direct(x, y)
    n1 = y.sum(0).astype(np.float64)
    n0 = 400 - n1
    d_s, diff_s = _stream(x, y, 400).scores()
    half_d = 1.959964 * np.sqrt(400 / (n1 * n0) + d * d / 800)
    half_diff = 1.959964 * sd * np.sqrt(1 / n1 + 1 / n0)
    np.testing.assert_allclose((d_s.high - d_s.score).numpy(), half_d, rtol=1e-5)
    np.testing.assert_allclose((diff_s.score - diff_s.low).numpy(), half_diff, rtol=1e-5)


def test_constant_unit_is_nan_and_state_round_trips():
    x, y = _data(n=500)
    x[:, 2] = 5.0
    a = _stream(x[:200], y[:200], 64)
    b = Selectivity(8, COLS, "cpu")
    b.load_state_dict(a.state_dict())
    for insp in (a, b):
        insp.update(torch.from_numpy(x[200:]), torch.from_numpy(y[200:]))
    full = _stream(x, y, 500).scores()[0].score
    assert torch.isnan(full[2]).all()
    # batches are summed in float32 blocks: other batchings agree to float32 rounding
    torch.testing.assert_close(a.scores()[0].score, full, equal_nan=True, rtol=0, atol=1e-5)
    torch.testing.assert_close(b.scores()[0].score, full, equal_nan=True, rtol=0, atol=1e-5)


def test_interval_covers_the_true_d():
    """Groups N(0.6, 1) (p = 0.3) and N(0, 1): delta = 0.6; 200 seeded samples of 200."""
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = (rng.random((200, 1)) < 0.3).astype(np.float32)
        x = (0.6 * y + rng.normal(size=(200, 1))).astype(np.float32)
        insp = Selectivity(1, B.columns, "cpu")
        insp.update(torch.from_numpy(x), torch.from_numpy(y))
        d = insp.scores()[0]
        covered += bool(d.low[0, 0] <= 0.6 <= d.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99


def test_accepts_binary_and_categorical_only():
    assert Selectivity.accepts(B) and Selectivity.accepts(C)
    assert not Selectivity.accepts(hyplib.Hypothesis("v", lambda b: b, kind="continuous"))

