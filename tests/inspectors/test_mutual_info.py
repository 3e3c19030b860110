"""Mutual-information inspector: equals sklearn on the same bins, streams exactly, saves and
restores, and its interval covers zero for independent units."""
import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import mutual_info_score

import hyplib
from hyplib.inspectors import MutualInfo

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r", "s"))
COLS = B.columns + C.columns


def _data(seed=0, n=3000, units=6):
    rng = np.random.default_rng(seed)
    yb = rng.random(n) < 0.3
    yc = rng.integers(0, 4, n)
    x = rng.normal(size=(n, units)) + np.linspace(0, 1.5, units) * yb[:, None]
    x[:, 1] += yc == 2
    x[:, 0] = np.maximum(x[:, 0], 0.5)  # a third of the values tie at the bottom
    y = np.column_stack([yb, np.eye(4)[yc]]).astype(np.float32)
    return x.astype(np.float32), y, np.column_stack([yb, yc])


def _stream(x, y, batch, **kw):
    insp = MutualInfo(x.shape[1], COLS, "cpu", **kw)
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


def _bins(insp, x):
    edges = insp.hist.tally().edges.numpy()
    return np.stack([np.searchsorted(e, v, side="left") for e, v in zip(edges, x.T)], 1)


def test_edges_are_quantiles_of_the_first_warmup_symbols():
    x, y, _ = _data()
    insp = _stream(x, y, 256, warmup=1000)
    want = np.quantile(x[:1000].astype(np.float64), np.arange(1, 16) / 16, axis=0).T
    np.testing.assert_allclose(insp.hist.tally().edges.numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("batch", [1, 7, 3000])
def test_plugin_equals_sklearn_on_the_same_bins(batch):
    x, y, labels = _data()
    insp = _stream(x, y, batch, warmup=1000)
    mm, plugin = insp.scores()
    assert (mm.metric, plugin.metric) == ("mi", "mi_plugin")
    assert [(c.hypothesis, c.class_index, c.label) for c in plugin.columns] == \
        [(B, None, ""), (C, None, "")]
    bins = _bins(insp, x)
    want = [[mutual_info_score(bins[:, u], labels[:, h]) for h in range(2)] for u in range(6)]
    np.testing.assert_allclose(plugin.score.numpy(), want, atol=1e-10)
    torch.testing.assert_close(mm.score, _stream(x, y, 3000, warmup=1000).scores()[0].score)


def test_miller_madow_and_interval_equal_a_direct_computation():
    x, y, labels = _data(n=800)
    insp = _stream(x, y, 100)
    mm, plugin = insp.scores()
    bins = _bins(insp, x)
    for u, h in [(0, 0), (1, 1), (5, 0)]:
        joint = np.zeros((16, 4))
        np.add.at(joint, (bins[:, u], labels[:, h]), 1)
        p = joint / 800
        px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
        pmi = np.log(np.where(p > 0, p, 1) / np.where(p > 0, px * py, 1))
        mi = (p * pmi).sum()
        mx, my, mxy = (px > 0).sum(), (py > 0).sum(), (p > 0).sum()
        var = max(((p * pmi ** 2).sum() - mi ** 2) / 800, (mx - 1) * (my - 1) / (2 * 800 ** 2))
        assert mm.score[u, h].item() == pytest.approx(mi + (mx + my - mxy - 1) / 1600, abs=1e-12)
        assert (mm.high - mm.score)[u, h].item() == pytest.approx(1.959964 * np.sqrt(var),
                                                                  rel=1e-5)
        assert (plugin.score - plugin.low)[u, h].item() == pytest.approx(1.959964 * np.sqrt(var),
                                                                        rel=1e-5)


@pytest.mark.parametrize("split", [300, 2000])
def test_state_round_trips_inside_and_after_warmup(split):
    x, y, _ = _data()
    a = _stream(x[:split], y[:split], 128, warmup=1000)
    b = MutualInfo(6, COLS, "cpu", warmup=1000)
    b.load_state_dict(a.state_dict())
    for insp in (a, b):
        insp.update(torch.from_numpy(x[split:]), torch.from_numpy(y[split:]))
    full = _stream(x, y, 3000, warmup=1000).scores()[0].score
    torch.testing.assert_close(a.scores()[0].score, full)
    torch.testing.assert_close(b.scores()[0].score, full)


def test_interval_covers_the_true_mi_of_the_bins():
    """x ~ N(y, 1), y ~ Bernoulli(0.4): the true MI of the binned unit (for the edges used)
    lies in the 95% interval of 200 seeded samples of 1000 symbols 90-99% of the time."""
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = (rng.random((1000, 1)) < 0.4).astype(np.float32)
        x = (rng.normal(size=(1000, 1)) + y).astype(np.float32)
        insp = MutualInfo(1, B.columns, "cpu", warmup=1000)
        insp.update(torch.from_numpy(x), torch.from_numpy(y))
        e = np.concatenate([[-np.inf], insp.hist.tally().edges[0].double().numpy(), [np.inf]])
        joint = np.stack([0.6 * np.diff(stats.norm.cdf(e)), 0.4 * np.diff(stats.norm.cdf(e - 1))])
        true = (joint * np.log(joint / joint.sum(0) / joint.sum(1, keepdims=True))).sum()
        mm = insp.scores()[0]
        covered += bool(mm.low[0, 0] <= true <= mm.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99


def test_interval_holds_zero_for_independent_units():
    """Conservative at MI = 0: 200 units independent of the label."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 200)).astype(np.float32)
    y = (rng.random((2000, 1)) < 0.4).astype(np.float32)
    insp = MutualInfo(200, B.columns, "cpu", warmup=500)
    insp.update(torch.from_numpy(x), torch.from_numpy(y))
    mm = insp.scores()[0]
    assert ((mm.low <= 0) & (0 <= mm.high)).double().mean().item() >= 0.95


def test_no_symbols_gives_nan():
    s = MutualInfo(3, COLS, "cpu").scores()[0]
    assert s.score.shape == (3, 2) and torch.isnan(s.score).all()


def test_accepts_binary_and_categorical_only():
    assert MutualInfo.accepts(B) and MutualInfo.accepts(C)
    assert not MutualInfo.accepts(hyplib.Hypothesis("v", lambda b: b, kind="continuous"))


def test_the_joint_table_follows_every_change_of_the_state():
    """scores() keeps its joint table for the p-values; an update, merge or loaded state
    drops it, so no score is read from counts that changed."""
    x, y, _ = _data()
    a = _stream(x[:1500], y[:1500], 500, warmup=1000)
    a.scores()
    a.update(torch.from_numpy(x[1500:]), torch.from_numpy(y[1500:]))
    whole = _stream(x, y, 3000, warmup=1000).scores()[1].score
    torch.testing.assert_close(a.scores()[1].score, whole)
    b = _stream(x[:700], y[:700], 700, warmup=1000)
    b.scores()
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.scores()[1].score, whole)
