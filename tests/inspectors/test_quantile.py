"""Quantile sketch: numpy's quantiles within its stated rank error on adversarial orders, one
batched sketch equals a sketch per unit, merges and state dicts round-trip, memory is bounded."""
import numpy as np
import pytest
import torch

from hyplib.inspectors.quantile import QuantileSketch

LEVELS = np.array([0.001, 0.25, 0.5, 0.9, 0.995, 0.999])


def _data(n=60000, seed=0):
    """Normal, log-normal, a sparse ReLU (mostly tied zeros), integers."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(size=n), rng.lognormal(0, 2, n),
                            np.maximum(rng.normal(size=n) - 2, 0),
                            rng.integers(0, 7, n)]).astype(np.float32)


def _sketch(x, batch, k=64, **kw):
    s = QuantileSketch(x.shape[1], "cpu", k, **kw)
    for i in range(0, len(x), batch):
        s.update(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))
    return s


def _rank_errors(x, values):
    """How far each value's rank range [#x < v, #x <= v] is from numpy's rank q·(n-1)."""
    want = LEVELS * (len(x) - 1)
    below = (x[:, :, None] < values[None]).sum(0)
    upto = (x[:, :, None] <= values[None]).sum(0) - 1
    return np.maximum(np.maximum(below - want, want - upto), 0)


@pytest.mark.parametrize("order", ["random", "sorted", "reversed"])
@pytest.mark.parametrize("batch", [1000, 60000])
def test_quantiles_are_numpys_within_the_stated_rank_error(order, batch):
    x = _data()
    if order != "random":
        x = np.sort(x, 0)[::-1 if order == "reversed" else 1]
    s = _sketch(x, batch)
    err, bound = _rank_errors(x, s.quantile(torch.tensor(LEVELS)).numpy()), s.rank_error(1e-3)
    assert (err <= bound).all(), (err.max(), bound)
    assert 0 < bound < 0.1 * len(x)  # 64 items per level: about 5% of the ranks at most
    ranks = s.rank(torch.from_numpy(np.quantile(x, LEVELS, axis=0).T.copy())).numpy()
    assert (np.abs(ranks - (x[:, :, None] <= np.quantile(x, LEVELS, axis=0).T).sum(0))
            <= bound).all()


def test_batched_units_equal_one_sketch_per_unit():
    x = _data(5000)
    both = _sketch(x, 700).quantile(torch.tensor(LEVELS))
    for u in range(x.shape[1]):
        alone = _sketch(x[:, u:u + 1], 700).quantile(torch.tensor(LEVELS))
        torch.testing.assert_close(both[u], alone[0])


def test_memory_is_bounded_and_small_streams_are_exact():
    x = _data(200000)
    s = _sketch(x, 4096, k=256)
    assert sum(v.shape[1] for v in s.levels) <= 3 * 256 + 4096
    few = _sketch(x[:100], 30, k=256)
    assert few.rank_error() == 0
    np.testing.assert_array_equal(few.quantile(0.5).numpy(),
                                  np.sort(x[:100], 0)[49])  # rank 49.5: the item covering it


def test_merge_and_state_dict_round_trip():
    x = _data(20000)
    a, b = _sketch(x[:12000], 1000), _sketch(x[12000:], 1000, seed=1)
    a.merge(b)
    assert a.n == 20000
    err = _rank_errors(x, a.quantile(torch.tensor(LEVELS)).numpy())
    assert (err <= a.rank_error(1e-3)).all()
    c = QuantileSketch(4, "cpu", 64)
    c.load_state_dict(a.state_dict())
    for s in (a, c):
        s.update(torch.from_numpy(x[:3000]))
    torch.testing.assert_close(c.quantile(torch.tensor(LEVELS)), a.quantile(torch.tensor(LEVELS)))
    assert c.rank_error() == a.rank_error()


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="k >= 8"):
        QuantileSketch(3, "cpu", k=4)
    with pytest.raises(ValueError, match="sketch of 2 units into one of 3"):
        QuantileSketch(3, "cpu").merge(QuantileSketch(2, "cpu"))
    assert torch.isnan(QuantileSketch(3, "cpu").quantile(0.5)).all()
