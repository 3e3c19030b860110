"""Correlation inspector: equals numpy/scipy, streams exactly, saves and restores its state."""
import numpy as np
import pytest
import torch
from scipy import stats

import hyplib
from hyplib.inspectors import Correlation

H = hyplib.Hypothesis("h", lambda b: b, kind="continuous")


def _data(seed=0, n=5000, units=20, cols=6, offset=1e4):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, cols))
    x = rng.normal(size=(n, units)) + y @ rng.normal(size=(cols, units)) * 0.3 + offset
    return x.astype(np.float32), y.astype(np.float32)


def _stream(x, y, batch):
    insp = Correlation(x.shape[1], H.columns * y.shape[1], "cpu")
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


@pytest.mark.parametrize("batch", [1, 7, 5000])
def test_equals_numpy_corrcoef(batch):
    x, y = _data()
    want = np.corrcoef(x.astype(np.float64).T, y.astype(np.float64).T)[:20, 20:]
    s = _stream(x, y, batch).scores()
    np.testing.assert_allclose(s.score.numpy(), want, atol=1e-6)
    assert (s.n == 5000).all()


def test_interval_is_fishers_and_matches_scipy():
    x, y = _data(n=300)
    s = _stream(x, y, 64).scores()
    ref = stats.pearsonr(x[:, 0].astype(np.float64), y[:, 0].astype(np.float64))
    ci = ref.confidence_interval(0.95)
    assert s.low[0, 0].item() == pytest.approx(ci.low, abs=1e-6)
    assert s.high[0, 0].item() == pytest.approx(ci.high, abs=1e-6)


def test_constant_unit_is_nan_and_state_round_trips():
    x, y = _data(n=200)
    x[:, 4] = 3.0
    a = _stream(x[:120], y[:120], 50)
    b = Correlation(20, H.columns * 6, "cpu")
    b.load_state_dict({k: (v.clone() if torch.is_tensor(v) else v)
                       for k, v in a.state_dict().items()})
    for insp in (a, b):
        insp.update(torch.from_numpy(x[120:]), torch.from_numpy(y[120:]))
    full = _stream(x, y, 200).scores().score
    assert torch.isnan(full[4]).all()
    # batches are summed in float32 blocks: other batchings agree to float32 rounding
    torch.testing.assert_close(a.scores().score, full, equal_nan=True, rtol=0, atol=2e-6)
    torch.testing.assert_close(b.scores().score, full, equal_nan=True, rtol=0, atol=2e-6)


def test_discovered_through_entry_point():
    from hyplib.plugins import load_catalog

    assert load_catalog().get("inspectors", "correlation") is Correlation


def test_interval_covers_the_true_correlation():
    """Bivariate normal with ρ = 0.6: 200 seeded samples of 200 symbols."""
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = rng.normal(size=(200, 1))
        x = 0.6 * y + 0.8 * rng.normal(size=(200, 1))
        insp = Correlation(1, H.columns, "cpu")
        insp.update(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32)))
        s = insp.scores()
        covered += bool(s.low[0, 0] <= 0.6 <= s.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99
