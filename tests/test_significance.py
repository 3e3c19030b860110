"""p-values against scipy on small data, their uniformity under the null, and q-values."""
import numpy as np
import pytest
import torch
from scipy import stats

import hyplib
from hyplib.errors import HyplibError
from hyplib.plugins import catalog
from hyplib.results import as_list
from hyplib.significance import p_values, q_values

B = hyplib.Hypothesis("b", lambda b: b, kind="binary")
C = hyplib.Hypothesis("c", lambda b: b, kind="categorical", classes=("p", "q", "r"))


def _data(seed, n, units, effect=0.4):
    rng = np.random.default_rng(seed)
    yb = rng.random(n) < 0.3
    yc = rng.integers(0, 3, n)
    y = np.column_stack([yb, np.eye(3)[yc]]).astype(np.float32)
    x = rng.normal(size=(n, units)) + effect * y @ rng.normal(size=(4, units))
    return np.round(x, 1).astype(np.float32), y  # rounded: ties


def _run(name, x, y, cols=B.columns + C.columns, **kw):
    insp = catalog().get("inspectors", name)(x.shape[1], cols, "cpu", **kw)
    for i in range(0, len(x), 64):
        insp.update(torch.from_numpy(x[i:i + 64]), torch.from_numpy(y[i:i + 64]))
    return insp, {s.metric: s for s in as_list(insp.scores())}


def _each(x, y, fn):
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.array([[fn(x[:, u], y[:, c]) for c in range(y.shape[1])] for u in range(x.shape[1])])


@pytest.mark.parametrize("name,metrics", [("correlation", ["r"]), ("point_biserial", ["r_pb"]),
                                          ("selectivity", ["d", "mean_diff"])])
def test_t_tests_equal_scipy(name, metrics):
    x, y = _data(0, 300, 5)
    cols = B.columns if name == "point_biserial" else B.columns + C.columns
    y = y[:, :len(cols)]
    insp, scores = _run(name, x, y, cols)
    if name == "selectivity":
        want = _each(x, y, lambda a, b: stats.ttest_ind(a[b > 0], a[b == 0]).pvalue)
    else:
        want = _each(x, y, lambda a, b: stats.pearsonr(a, b).pvalue)
    assert (want < 1e-3).any() and (want > 0.05).any()
    for metric in metrics:  # moments summed in float32 blocks: p to 5 significant digits
        np.testing.assert_allclose(p_values(insp, scores[metric]), want, rtol=1e-5, atol=1e-12)


def test_auc_is_mann_whitney():
    x, y = _data(1, 400, 5)  # fewer symbols than bins: each distinct value has its own bin
    insp, scores = _run("auc", x, y)
    want = _each(x, y, lambda a, b: stats.mannwhitneyu(a[b > 0], a[b == 0],
                                                       method="asymptotic").pvalue)
    assert (want < 1e-3).any() and (want > 0.05).any()
    for metric in ("auc", "ap"):
        np.testing.assert_allclose(p_values(insp, scores[metric]), want, rtol=1e-9)


def test_mutual_information_is_a_g_test():
    x, y = _data(2, 500, 4)
    insp, scores = _run("mutual_info", x, y, bins=4)
    edges = insp.hist.tally().edges.numpy()
    labels = [y[:, 0].astype(int), y[:, 1:].argmax(1)]

    def g_test(u, lab):
        bins = np.searchsorted(edges[u], x[:, u], side="left")
        table = np.zeros((4, lab.max() + 1))
        np.add.at(table, (bins, lab), 1)
        table = table[table.sum(1) > 0][:, table.sum(0) > 0]
        return stats.chi2_contingency(table, correction=False, lambda_="log-likelihood").pvalue

    want = np.array([[g_test(u, lab) for lab in labels] for u in range(x.shape[1])])
    assert (want < 1e-3).any()
    for metric in ("mi", "mi_plugin"):
        np.testing.assert_allclose(p_values(insp, scores[metric]), want, rtol=1e-9)


def test_iou_null_is_fishers_exact_test():
    x, y = _data(3, 400, 4, effect=1.0)
    insp, scores = _run("iou", x, y, quantile=0.9)
    thr = insp.threshold()[0].numpy()

    def fisher(u, c):
        a, lab = x[:, u] > thr[u], y[:, c] > 0
        table = [[np.sum(a & lab), np.sum(a & ~lab)], [np.sum(~a & lab), np.sum(~a & ~lab)]]
        return stats.fisher_exact(table, alternative="greater").pvalue

    want = np.array([[fisher(u, c) for c in range(y.shape[1])] for u in range(x.shape[1])])
    assert (want < 1e-3).any() and (want > 0.05).any()
    for metric in ("iou", "detector"):
        np.testing.assert_allclose(p_values(insp, scores[metric]), want, rtol=1e-6)


@pytest.mark.parametrize("name,metric,kw", [("correlation", "r", {}), ("selectivity", "d", {}),
                                            ("auc", "auc", {}),
                                            ("mutual_info", "mi", {"bins": 8})])
def test_p_values_are_uniform_under_the_null(name, metric, kw):
    x, y = _data(4, 2000, 200, effect=0.0)
    insp, scores = _run(name, x, y, **kw)
    p = p_values(insp, scores[metric]).ravel()
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_iou_p_values_hold_their_level_under_the_null():
    x, y = _data(5, 2000, 200, effect=0.0)
    insp, scores = _run("iou", x, y, quantile=0.95)
    p = p_values(insp, scores["iou"]).ravel()
    for alpha in (0.01, 0.05, 0.1, 0.5):  # discrete: at most alpha, up to sampling error
        assert np.mean(p <= alpha) <= alpha + 2 * np.sqrt(alpha / len(p))


def test_probe_scores_have_no_p_value():
    x, y = _data(6, 300, 4)
    insp, scores = _run("probe", x, y, epochs=1)
    assert p_values(insp, scores["accuracy"]) is None


@pytest.mark.parametrize("method", ["bh", "by"])
def test_q_values_equal_scipy(method):
    p = np.random.default_rng(0).random(500) ** 3
    p[::7] = np.nan
    q = q_values(p, method)
    tested = ~np.isnan(p)
    np.testing.assert_allclose(q[tested], stats.false_discovery_control(p[tested], method=method))
    assert np.isnan(q[~tested]).all()
    with pytest.raises(HyplibError, match="FDR method must be one of"):
        q_values(p, "holm")
