"""Point-biserial inspector: equals scipy, streams exactly, and its interval covers the truth."""
import numpy as np
import pytest
import torch
from scipy import stats

import hyplib
from hyplib.inspectors import PointBiserial

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")


def _data(seed=0, n=3000, units=8, cols=3, offset=1e4):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, cols)) < [0.1, 0.5, 0.8]).astype(np.float32)
    x = rng.normal(size=(n, units)) + y @ rng.normal(size=(cols, units)) + offset
    return x.astype(np.float32), y


def _stream(x, y, batch):
    insp = PointBiserial(x.shape[1], B.columns * y.shape[1], "cpu")
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


@pytest.mark.parametrize("batch", [1, 7, 3000])
def test_equals_scipy_pointbiserialr(batch):
    x, y = _data()
    s = _stream(x, y, batch).scores()
    assert s.metric == "r_pb" and (s.n == 3000).all()
    for u, c in [(0, 0), (3, 1), (7, 2)]:
        xd, yd = x[:, u].astype(np.float64), y[:, c].astype(np.float64)
        assert s.score[u, c].item() == pytest.approx(stats.pointbiserialr(yd, xd).statistic,
                                                     abs=1e-6)
        ci = stats.pearsonr(yd, xd).confidence_interval(0.95)
        assert s.low[u, c].item() == pytest.approx(ci.low, abs=1e-6)
        assert s.high[u, c].item() == pytest.approx(ci.high, abs=1e-6)


def test_accepts_binary_hypotheses_only():
    assert PointBiserial.accepts(B)
    assert not PointBiserial.accepts(hyplib.Hypothesis("c", lambda b: b, kind="categorical",
                                                       classes=("p", "q")))
    assert not PointBiserial.accepts(hyplib.Hypothesis("v", lambda b: b, kind="continuous"))


def test_state_round_trips():
    x, y = _data(n=500)
    a = _stream(x[:200], y[:200], 64)
    b = PointBiserial(8, B.columns * 3, "cpu")
    b.load_state_dict(a.state_dict())
    for insp in (a, b):
        insp.update(torch.from_numpy(x[200:]), torch.from_numpy(y[200:]))
    full = _stream(x, y, 500).scores().score
    # batches are summed in float32 blocks: other batchings agree to float32 rounding
    torch.testing.assert_close(a.scores().score, full, rtol=0, atol=2e-6)
    torch.testing.assert_close(b.scores().score, full, rtol=0, atol=2e-6)


def test_interval_covers_the_true_correlation():
    """y ~ Bernoulli(0.3), x = y + N(0, 1): rho = sqrt(.21 / 1.21); 200 seeded samples of 150."""
    rho = np.sqrt(0.21 / 1.21)
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = (rng.random((150, 1)) < 0.3).astype(np.float32)
        x = (y + rng.normal(size=(150, 1))).astype(np.float32)
        s = _stream(x, y, 150).scores()
        covered += bool(s.low[0, 0] <= rho <= s.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99

