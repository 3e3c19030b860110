"""IoU inspector: its one-pass threshold is numpy's quantile within the histogram bin holding its
rank, its IoU equals NetDissect's two-pass IoU within that bin's count (exactly for tied
activations and on small data), its interval brackets it on a sorted stream, it streams exactly,
saves and restores, and flags planted detectors on pixels."""
import numpy as np
import pytest
import torch
from scipy import stats

import hyplib
from hyplib.inspectors import IoU

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))
COLS = B.columns + C.columns
CONTINUOUS, TIED = [0, 1, 2, 4, 5], [3, 6]


def _data(seed=0, n=40000):
    """Normal, exponential, log-normal, sparse ReLU (0.2% non-zero), ReLU, t(2), integers."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.exponential(size=n), rng.lognormal(0, 2, n),
                         np.maximum(rng.normal(size=n) - 2.9, 0),
                         np.maximum(rng.normal(size=n) - 2, 0), rng.standard_t(2, n),
                         rng.integers(0, 5, n)]).astype(np.float32)
    yb = np.where(rng.random(n) < 0.5, x[:, 0] > 2.3, rng.random(n) < 0.05)
    yc = np.where(x[:, 2] > 50, 2, rng.integers(0, 2, n))
    return x, np.column_stack([yb, np.eye(3)[yc]]).astype(np.float32)


def _stream(x, y, batch, cols=COLS, **kw):
    insp = IoU(x.shape[1], cols, "cpu", **kw)
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]), torch.from_numpy(y[i:i + batch]))
    return insp


def test_threshold_is_numpys_quantile_within_the_bin_holding_its_rank():
    """The sketch's threshold lies in the bin holding rank 0.995·(n-1), whose count is at most
    5x the stated 0.01% of the symbols, as does numpy's order statistic at that rank; so the
    symbols above them differ by at most that count. Tied activations are exact."""
    x, y = _data()
    insp = _stream(x, y, 4000, warmup=4000)
    thr, lo, hi = (v.numpy() for v in insp.threshold())
    q = np.quantile(x, 0.995, axis=0)
    at = np.sort(x, 0)[int(0.995 * (len(x) - 1))]
    assert ((lo <= thr) & (thr <= hi) & (lo <= at) & (at <= hi)).all()
    in_bin = ((x >= lo) & (x <= hi)).sum(0)
    assert (np.abs((x > thr).sum(0) - (x > q).sum(0)) <= in_bin + 1).all()
    assert (in_bin[CONTINUOUS] <= 5 * 0.04 / 384 * len(x)).all()
    np.testing.assert_array_equal(thr[TIED], q[TIED])
    assert 0 < insp.rank_error() < 0.01 * len(x)


def test_iou_equals_the_direct_definition_on_small_data():
    """Below ``warmup`` symbols the edges are quantiles of all of them: every tail bin holds
    at most one symbol, so |A ∩ L| and |A ∪ L| at the threshold are exact."""
    x, y = _data(n=3000)
    insp = _stream(x, y, 250)
    thr = insp.threshold()[0].numpy()
    a, lab = x > thr, y > 0.5
    inter = (a[:, :, None] & lab[:, None]).sum(0)
    union = (a[:, :, None] | lab[:, None]).sum(0)
    np.testing.assert_allclose(insp.scores()[0].score.numpy(), inter / union, atol=1e-12)
    np.testing.assert_array_equal(a.sum(0)[CONTINUOUS], 15)  # ranks above 0.995 · 2999


def test_interval_brackets_the_iou_on_a_sorted_stream():
    """Sorted by a unit's activation, the first symbols misplace the fine bins: the threshold's
    bin is wide, and the interval, spanning its every split, still holds the two-pass IoU."""
    x, y = _data(n=20000)
    order = np.argsort(x[:, 0])
    x, y = x[order], y[order]
    iou = _stream(x, y, 1000, warmup=2000).scores()[0]
    a = x > np.quantile(x, 0.995, axis=0)
    lab = y > 0.5
    true = (a[:, :, None] & lab[:, None]).sum(0) / (a[:, :, None] | lab[:, None]).sum(0)
    assert ((iou.low.numpy() <= true + 1e-12) & (true <= iou.high.numpy() + 1e-12)).all()
    assert (iou.high - iou.low)[0, 0] > 0.1  # and says it is unsure


@pytest.mark.parametrize("batch", [4000, 40000])
def test_iou_equals_two_pass_netdissect_within_the_sketch_error(batch):
    x, y = _data()
    insp = _stream(x, y, batch, warmup=4000)
    iou, detector = insp.scores()
    assert (iou.metric, detector.metric) == ("iou", "detector") and (iou.n == len(x)).all()
    _, lo, hi = (v.numpy() for v in insp.threshold())
    in_bin = ((x >= lo) & (x <= hi)).sum(0)
    a, lab = x > np.quantile(x, 0.995, axis=0), y > 0.5
    inter = (a[:, :, None] & lab[:, None]).sum(0)
    union = (a[:, :, None] | lab[:, None]).sum(0)
    err = np.abs(iou.score.numpy() - inter / union)
    assert (err <= 3 * (in_bin[:, None] + 1) / union).all()
    np.testing.assert_allclose(iou.score.numpy()[TIED], (inter / union)[TIED], atol=1e-12)
    assert ((iou.low <= iou.score) & (iou.score <= iou.high)).all()
    torch.testing.assert_close(detector.score, (iou.score > 0.04).double())


def test_batched_equals_unbatched():
    x, y = _data(n=3000)
    want = _stream(x, y, 3000, warmup=1000).scores()[0]
    for batch in (1, 7, 1200):
        got = _stream(x, y, batch, warmup=1000).scores()[0]
        torch.testing.assert_close(got.score, want.score, equal_nan=True)
        torch.testing.assert_close(got.high, want.high, equal_nan=True)


@pytest.mark.parametrize("split", [300, 2000])
def test_state_round_trips_inside_and_after_warmup(split):
    x, y = _data(n=3000)
    a = _stream(x[:split], y[:split], 128, warmup=1000)
    b = IoU(7, COLS, "cpu", warmup=1000)
    b.load_state_dict(a.state_dict())
    for insp in (a, b):
        insp.update(torch.from_numpy(x[split:]), torch.from_numpy(y[split:]))
    full = _stream(x, y, 3000, warmup=1000).scores()[0]
    for insp in (a, b):
        torch.testing.assert_close(insp.scores()[0].score, full.score, equal_nan=True)


def test_flags_a_planted_detector_on_pixels():
    """20 images of 32×32 pixels with a 3×3 object each: a unit that fires on the object is a
    detector, sure of it; a noise unit is not."""
    rng = np.random.default_rng(0)
    masks = np.zeros((20, 32, 32), dtype=np.float32)
    for m, (r, c) in zip(masks, rng.integers(0, 29, (20, 2))):
        m[r:r + 3, c:c + 3] = 1
    y = masks.reshape(-1, 1)
    x = np.column_stack([y[:, 0] + 0.1 * rng.normal(size=len(y)), rng.normal(size=len(y))])
    iou, detector = _stream(x.astype(np.float32), y, 1024, B.columns, warmup=4096).scores()
    assert iou.score[0, 0] > 0.5 and iou.score[1, 0] < 0.04
    assert detector.low[0, 0] == 1 and detector.high[1, 0] == 0


def test_bad_parameters_name_the_fix():
    with pytest.raises(ValueError, match=r"quantile must lie strictly between 0 and 1"):
        IoU(3, COLS, "cpu", quantile=99.5)
    with pytest.raises(ValueError, match="bins must be at least 8"):
        IoU(3, COLS, "cpu", bins=4)
    with pytest.raises(ValueError, match="k >= 8"):
        IoU(3, COLS, "cpu", sketch_k=2)


def test_accepts_binary_and_categorical_only():
    assert IoU.accepts(B) and IoU.accepts(C)
    assert not IoU.accepts(hyplib.Hypothesis("v", lambda b: b, kind="continuous"))


def test_interval_covers_the_true_iou():
    """Activations N(0, 1), the label positive with probability 0.6 above 2 and 0.002 below:
    the top 0.5% lies above 2, so IoU = 0.6·0.005 / (0.005 + P(L) - 0.6·0.005); 200 seeded
    samples of 20,000 symbols (|A| = 100)."""
    p_l = 0.6 * stats.norm.sf(2) + 0.002 * stats.norm.cdf(2)
    true = 0.003 / (0.005 + p_l - 0.003)
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(20000, 1)).astype(np.float32)
        y = (rng.random((20000, 1)) < np.where(x > 2, 0.6, 0.002)).astype(np.float32)
        insp = IoU(1, B.columns, "cpu", warmup=4096)
        insp.update(torch.from_numpy(x), torch.from_numpy(y))
        iou = insp.scores()[0]
        covered += bool(iou.low[0, 0] <= true <= iou.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99
