"""AUC inspector: equals sklearn (exactly on the same bins, within the tie bound on raw
activations), streams exactly, saves and restores, and its intervals cover the truth."""
import numpy as np
import pytest
import torch
from scipy import integrate, stats
from sklearn.metrics import average_precision_score, roc_auc_score

import hyplib
from hyplib.inspectors import AUC

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))
COLS = B.columns + C.columns


def _data(seed=0, n=3000, units=6):
    rng = np.random.default_rng(seed)
    yb = rng.random(n) < 0.2
    yc = rng.integers(0, 3, n)
    y = np.column_stack([yb, np.eye(3)[yc]]).astype(np.float32)
    x = rng.normal(size=(n, units)) + y @ rng.normal(size=(4, units))
    x[:, 0] = np.maximum(x[:, 0], 0)  # ties at zero
    return x.astype(np.float32), y


def _stream(x, y, batch, **kw):
    insp = AUC(x.shape[1], COLS, "cpu", **kw)
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


def _bins(insp, x):
    edges = insp.hist.tally().edges.numpy()
    return np.stack([np.searchsorted(e, v, side="left") for e, v in zip(edges, x.T)], 1)


@pytest.mark.parametrize("batch", [1, 7, 3000])
def test_equals_sklearn_on_the_same_bins(batch):
    x, y = _data()
    insp = _stream(x, y, batch, bins=32, warmup=1000)
    auc, ap = insp.scores()
    assert (auc.metric, ap.metric) == ("auc", "ap") and (auc.n == 3000).all()
    bins = _bins(insp, x)
    for u in range(6):
        for c in range(4):
            assert auc.score[u, c].item() == pytest.approx(roc_auc_score(y[:, c], bins[:, u]),
                                                           abs=1e-12)
            assert ap.score[u, c].item() == pytest.approx(
                average_precision_score(y[:, c], bins[:, u]), abs=1e-12)
    torch.testing.assert_close(auc.score, _stream(x, y, 3000, bins=32, warmup=1000)
                               .scores()[0].score)


def test_close_to_sklearn_on_raw_activations():
    """|AUC - exact| <= ½ Σ_b P_b N_b / PN (pairs tied in a bin), and < 1e-3 with 512 bins."""
    x, y = _data()
    insp = _stream(x, y, 500, warmup=1000)
    auc, ap = insp.scores()
    bins = _bins(insp, x)
    for u in range(6):
        for c in range(4):
            pos, neg = (np.bincount(bins[y[:, c] == v, u], minlength=512) for v in (1, 0))
            bound = 0.5 * (pos * neg).sum() / (pos.sum() * neg.sum())
            err = abs(auc.score[u, c].item() - roc_auc_score(y[:, c], x[:, u]))
            assert err <= bound + 1e-12 and err < 1e-3
            assert ap.score[u, c].item() == pytest.approx(
                average_precision_score(y[:, c], x[:, u]), abs=3e-3)


@pytest.mark.parametrize("split", [300, 2000])
def test_state_round_trips_inside_and_after_warmup(split):
    x, y = _data()
    a = _stream(x[:split], y[:split], 128, warmup=1000)
    b = AUC(6, COLS, "cpu", warmup=1000)
    b.load_state_dict(a.state_dict())
    for insp in (a, b):
        insp.update(torch.from_numpy(x[split:]), torch.from_numpy(y[split:]))
    full = _stream(x, y, 3000, warmup=1000).scores()
    for insp in (a, b):
        for got, want in zip(insp.scores(), full):
            torch.testing.assert_close(got.score, want.score)


def test_intervals_cover_the_true_auc_and_ap():
    """Positives N(1, 1) (p = 0.3), negatives N(0, 1): AUC = Φ(1/√2) and AP = E[precision at
    a positive's score]; 200 seeded samples of 300 symbols."""
    true_auc = stats.norm.cdf(1 / np.sqrt(2))
    true_ap = integrate.quad(lambda s: stats.norm.pdf(s - 1) * 0.3 * stats.norm.sf(s - 1)
                             / (0.3 * stats.norm.sf(s - 1) + 0.7 * stats.norm.sf(s)), -10, 10)[0]
    covered = np.zeros(2)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        y = (rng.random((300, 1)) < 0.3).astype(np.float32)
        x = (rng.normal(size=(300, 1)) + y).astype(np.float32)
        insp = AUC(1, B.columns, "cpu", warmup=100)
        insp.update(torch.from_numpy(x), torch.from_numpy(y))
        covered += [bool(s.low[0, 0] <= true <= s.high[0, 0])
                    for s, true in zip(insp.scores(), (true_auc, true_ap))]
    assert ((0.90 <= covered / 200) & (covered / 200 <= 0.99)).all()


def test_perfect_detector_and_missing_class():
    x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    y = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    insp = AUC(1, B.columns + C.columns[:2], "cpu")
    insp.update(x, y)
    auc, ap = insp.scores()
    assert auc.score[0, 0] == auc.low[0, 0] == auc.high[0, 0] == 1.0
    assert ap.score[0, 0] == ap.low[0, 0] == 1.0
    assert auc.score[0, 1] == 0.0
    assert torch.isnan(auc.score[0, 2]) and torch.isnan(ap.score[0, 2])


def test_accepts_binary_and_categorical_only():
    assert AUC.accepts(B) and AUC.accepts(C)
    assert not AUC.accepts(hyplib.Hypothesis("v", lambda b: b, kind="continuous"))
