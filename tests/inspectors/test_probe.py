"""Probes: equal sklearn on the same split, rank planted units first, control tasks, intervals."""
import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, f1_score
from threadpoolctl import threadpool_limits

import hyplib
from hyplib.control import control_task
from hyplib.inspectors import LinearProbe, Probe
from hyplib.inspectors.streaming import held_out

CLASSES = ("a", "b", "c", "d")
H = hyplib.Hypothesis("h", lambda b: b, kind="categorical", classes=CLASSES)
PLANTED = [5, 17, 40]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensor and BLAS ops are far slower with several threads on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


def _planted(classes, units=64, noise=0.6, seed=0, where=PLANTED):
    """Units with arbitrary scales and offsets; the class is linearly encoded in ``where``."""
    rng = np.random.default_rng(seed)
    n = len(classes)
    x = rng.normal(size=(n, units)) * rng.uniform(0.5, 3, units) + rng.normal(size=units) * 5
    x[:, where] = rng.normal(size=(4, 3))[classes] * 1.5 + noise * rng.normal(size=(n, 3))
    return x.astype(np.float32)


def _stream(insp, x, y, batch, device="cpu"):
    for i in range(0, len(x), batch):
        insp.update(torch.from_numpy(x[i:i + batch]).to(device),
                    torch.from_numpy(y[i:i + batch]).to(device))
    return insp


def _metrics(insp):
    return {s.metric: s for s in insp.scores()}


@pytest.fixture(scope="module")
def planted():
    c = np.random.default_rng(1).integers(0, 4, 20_000)
    x, y = _planted(c), np.eye(4, dtype=np.float32)[c]
    runs = {b: _metrics(_stream(Probe(64, H.columns, "cpu"), x, y, b)) for b in (256, 4096)}
    return x, c, runs


def test_accuracy_equals_sklearn_on_the_same_split(planted):
    x, c, runs = planted
    test = held_out(torch.arange(len(x)), 0, 0.2).numpy()
    mean, sd = x[~test].mean(0), x[~test].std(0)
    n = int((~test).sum())
    ref = LogisticRegression(C=1 / (2 * n * 1e-5), max_iter=1000).fit((x[~test] - mean) / sd,
                                                                        c[~test])
    want = ref.score((x[test] - mean) / sd, c[test])
    m = runs[256]
    assert 0.8 < want < 0.95
    assert m["accuracy"].score.item() == pytest.approx(want, abs=0.005)
    assert m["accuracy"].n.item() == test.sum()
    assert m["accuracy"].groups == ["all"] and m["accuracy"].columns[0].hypothesis is H
    assert m["accuracy"].low.item() < m["accuracy"].score.item() < m["accuracy"].high.item()
    assert m["macro_f1"].score.item() == pytest.approx(
        f1_score(c[test], ref.predict((x[test] - mean) / sd), average="macro"), abs=0.01)
    assert m["balanced_accuracy"].score.item() == pytest.approx(balanced_accuracy_score(
        c[test], ref.predict((x[test] - mean) / sd)), abs=0.01)
    assert m["balanced_accuracy"].low.item() < m["balanced_accuracy"].score.item()
    assert m["majority"].score.item() == pytest.approx(
        np.mean(c[test] == np.bincount(c[~test]).argmax()), abs=1e-9)


def test_ranking_recovers_planted_units_and_top_k_keeps_accuracy(planted):
    m = planted[2][256]
    rank = m["rank"].score[:, 0]
    assert sorted(rank[PLANTED].tolist()) == [1, 2, 3]
    assert m["weight"].score[PLANTED, 0].sum() > 0.5
    assert m["weight"].score.sum().item() == pytest.approx(1, abs=1e-5)
    assert set(m["selected"].score[:, 0].nonzero().flatten().tolist()) <= set(PLANTED)
    full = m["accuracy"].score.item()
    assert m["accuracy_top10"].groups == ["top10"]
    assert m["accuracy_top10"].score.item() == pytest.approx(full, abs=0.01)
    assert m["accuracy_random10"].score.item() < full - 0.3


def test_classifier_masking_keeps_the_planted_units_weights(planted):
    m = planted[2][256]
    full = m["accuracy"].score.item()
    assert [m[f"masked_{s}10"].groups for s in ("top", "random", "bottom")] == [
        ["top10"], ["random10"], ["bottom10"]]
    # the planted units carry the class: keeping only the top 10 units' weights keeps it
    assert m["masked_top10"].score.item() == pytest.approx(full, abs=0.01)
    assert m["masked_bottom10"].score.item() < full - 0.3
    assert m["masked_random10"].score.item() < full - 0.3
    low, high = m["masked_bottom10"].low.item(), m["masked_bottom10"].high.item()
    assert low < m["masked_bottom10"].score.item() < high


def test_masking_no_unit_out_is_the_probe_itself():
    c = np.random.default_rng(3).integers(0, 4, 3000)
    x, y = _planted(c, units=12, where=[1, 5, 9]), np.eye(4, dtype=np.float32)[c]
    m = _metrics(_stream(Probe(12, H.columns, "cpu", k=12), x, y, 500))
    for part in ("top", "random", "bottom"):
        assert torch.equal(m[f"masked_{part}12"].score, m["accuracy"].score)


def test_balanced_accuracy_is_at_chance_for_labels_unrelated_to_the_units():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6000, 40)).astype(np.float32)
    c = (rng.random(6000) < 0.1).astype(np.int64)  # a rare class, unrelated to x
    m = _metrics(_stream(Probe(40, H.columns, "cpu"), x, np.eye(4, dtype=np.float32)[c], 1000))
    bal = m["balanced_accuracy"]
    assert bal.low.item() <= 0.5 <= bal.high.item() and abs(bal.score.item() - 0.5) < 0.05


def test_batch_size_does_not_change_the_result(planted):
    a, b = planted[2][256], planted[2][4096]
    for metric in ("accuracy", "macro_f1", "accuracy_top10"):
        assert a[metric].score.item() == pytest.approx(b[metric].score.item(), abs=0.01)
    assert torch.equal(a["majority"].score, b["majority"].score)
    assert set(a["rank"].score[PLANTED, 0].tolist()) == set(b["rank"].score[PLANTED, 0].tolist())


def _words(n_records=400, n_words=50, vocab=2000, seed=2):
    """Records of words from a vocabulary; word w has class w % 4."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, (n_records, n_words))
    texts, spans = [], []
    for row in ids:
        words = [f"w{i}" for i in row]
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        texts.append(" ".join(words))
        spans.append([[int(s), int(s) + len(w)] for s, w in zip(starts, words)])
    return {"text": texts, "word_spans": spans}, ids.reshape(-1) % 4


def test_control_selectivity_is_large_for_planted_and_small_for_random_targets():
    batch, c = _words()
    h = hyplib.Hypothesis("h", lambda b: b, kind="categorical", level="word", classes=CLASSES)
    r = hyplib.Hypothesis("r", lambda b: b, kind="categorical", level="word", classes=CLASSES)
    labels = [c, np.random.default_rng(3).integers(0, 4, len(c))]
    labels += [np.concatenate(control_task(hyp)(batch)) for hyp in (h, r)]
    hyps = [h, r, control_task(h), control_task(r)]
    y = np.concatenate([np.eye(4, dtype=np.float32)[lab] for lab in labels], axis=1)
    m = _metrics(_stream(Probe(64, [col for hyp in hyps for col in hyp.columns], "cpu"),
                         _planted(c), y, 1024))
    sel = m["selectivity"]
    assert [col.hypothesis.name for col in sel.columns] == ["h", "r"]
    assert sel.score[0, 0].item() > 0.5
    assert abs(sel.score[0, 1].item()) < 0.04
    assert sel.low[0, 1].item() < 0 < sel.high[0, 1].item()
    acc = m["accuracy"].score[0]
    assert sel.score[0, 0].item() == pytest.approx((acc[0] - acc[2]).item(), abs=1e-9)


def test_control_task_labels_each_type_by_a_seeded_hash():
    batch, _ = _words(n_records=30)
    h = hyplib.Hypothesis("h", lambda b: b, kind="categorical", level="word", classes=CLASSES)
    ctrl = control_task(h, seed=4, priors=[0.7, 0.1, 0.1, 0.1])
    assert (ctrl.name, ctrl.kind, ctrl.level, ctrl.classes) == ("control:h", h.kind, "word",
                                                                CLASSES)
    assert ctrl.version != control_task(h, seed=5).version
    labels = ctrl(batch)
    assert labels == ctrl(batch)
    kind = {}
    for text, spans, labs in zip(batch["text"], batch["word_spans"], labels):
        for (s, e), lab in zip(spans, labs):
            assert kind.setdefault(text[s:e], lab) == lab
    freq = np.bincount(list(kind.values()), minlength=4) / len(kind)
    assert freq[0] == pytest.approx(0.7, abs=0.05)
    chars = control_task(hyplib.Hypothesis("b", lambda b: b, level="char"))({"text": ["abca"]})
    assert chars[0][0] == chars[0][3] and set(chars[0]) <= {0, 1}


def test_control_task_errors_name_the_problem():
    with pytest.raises(ValueError, match="'y' is continuous"):
        control_task(hyplib.Hypothesis("y", lambda b: b, kind="continuous"))
    with pytest.raises(ValueError, match="must be 4 non-negative numbers"):
        control_task(H, priors=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"binary or categorical hypotheses, not \['y'\]"):
        Probe(3, hyplib.Hypothesis("y", lambda b: b, kind="continuous").columns, "cpu")
    with pytest.raises(ValueError, match=r"continuous hypotheses, not \['h'\]"):
        LinearProbe(3, H.columns, "cpu")


def test_accuracy_and_f1_intervals_cover_the_bayes_accuracy():
    """Binary, balanced, one unit at ±1 with unit noise: accuracy = macro-F1 = Φ(1); 200
    seeded samples of 3,000 symbols (600 held out)."""
    truth, covered = stats.norm.cdf(1), np.zeros(2)
    b = hyplib.Hypothesis("b", lambda b: b)
    for rep in range(200):
        rng = np.random.default_rng(100 + rep)
        t = rng.integers(0, 2, 3000)
        x = rng.normal(size=(3000, 8)).astype(np.float32)
        x[:, 0] += 2 * t - 1
        m = _metrics(_stream(Probe(8, b.columns, "cpu", seed=rep, epochs=5), x,
                             t[:, None].astype(np.float32), 3000))
        covered += [m[k].low.item() <= truth <= m[k].high.item() for k in ("accuracy", "macro_f1")]
    assert ((0.90 <= covered / 200) & (covered / 200 <= 0.99)).all(), covered


def test_state_round_trips_and_scores_are_idempotent():
    c = np.random.default_rng(5).integers(0, 4, 3000)
    x, y = _planted(c, units=16, seed=5, where=[0, 1, 2]), np.eye(4, dtype=np.float32)[c]
    a = _stream(Probe(16, H.columns, "cpu", epochs=3), x[:1500], y[:1500], 500)
    with torch.inference_mode():
        b = Probe(16, H.columns, "cpu", epochs=3)
    b.load_state_dict({k: v for k, v in a.state_dict().items()})
    for insp in (a, b):
        _stream(insp, x[1500:], y[1500:], 500)
    whole = _stream(Probe(16, H.columns, "cpu", epochs=3), x, y, 500).scores()
    first = a.scores()
    assert first is a.scores()
    for s, t, u in zip(whole, first, b.scores()):
        assert s.metric == t.metric == u.metric
        torch.testing.assert_close(t.score, s.score)
        torch.testing.assert_close(u.score, s.score)


def test_runs_under_inference_mode_like_the_engine():
    c = np.random.default_rng(6).integers(0, 4, 2000)
    x, y = _planted(c, units=16, where=[0, 1, 2]), np.eye(4, dtype=np.float32)[c]
    v = hyplib.Hypothesis("v", lambda b: b, kind="continuous")
    with torch.inference_mode():
        insp = _stream(Probe(16, H.columns, "cpu", epochs=2), x, y, 512)
        lin = _stream(LinearProbe(16, v.columns, "cpu", l1=1e-3), x,
                      c[:, None].astype(np.float32), 512)
    assert _metrics(insp)["accuracy"].score.item() > 0.5
    assert _metrics(lin)["r2"].score.item() > 0


def _regression(n=8000, units=32, seed=7):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, units)) * rng.uniform(0.5, 3, units) + 4).astype(np.float32)
    x[:, 1] += x[:, 0]
    y = x[:, PLANTED[:2]] @ np.array([[1.0, -0.5], [-2.0, 0.1]]) + rng.normal(size=(n, 2))
    return x, y.astype(np.float32)


@pytest.mark.parametrize("l1", [0.0, 0.01])
def test_linear_probe_r2_equals_sklearn(l1):
    x, y = _regression()
    v = [hyplib.Hypothesis(f"v{i}", lambda b: b, kind="continuous") for i in range(2)]
    l2 = 0.05
    cols = [h.columns[0] for h in v]
    m = _metrics(_stream(LinearProbe(32, cols, "cpu", l1=l1, l2=l2), x, y, 700))
    test = held_out(torch.arange(len(x)), 0, 0.2).numpy()
    mean, sd = x[~test].mean(0), x[~test].std(0)
    n = int((~test).sum())
    for j in range(2):
        ym, ys = y[~test, j].mean(), y[~test, j].std()
        xs, ts = (x[~test] - mean) / sd, (y[~test, j] - ym) / ys
        ref = (Ridge(alpha=2 * n * l2) if l1 == 0 else  # float64: float32 stalls at tol 1e-10
               ElasticNet(alpha=l1 + 2 * l2, l1_ratio=l1 / (l1 + 2 * l2), tol=1e-10)
               ).fit(xs.astype(np.float64), ts.astype(np.float64))
        want = ref.score((x[test] - mean) / sd, (y[test, j] - ym) / ys)
        assert m["r2"].score[0, j].item() == pytest.approx(want, abs=1e-4)
        assert m["r2"].low[0, j].item() < want < m["r2"].high[0, j].item()
        assert m["r2_top10"].score[0, j].item() == pytest.approx(want, abs=0.01)
        assert m["r2_random10"].score[0, j].item() < want - 0.3
    assert sorted(m["rank"].score[PLANTED[:2], 0].tolist()) == [1, 2]


def test_linear_probe_r2_interval_covers_the_true_r2():
    """y = xβ + ε with 5 standard-normal units, ‖β‖² = 1.34, Var ε = 1: R² = 1.34 / 2.34 (the
    fitted β's shortfall, about 5/1600 of Var ε, is far inside the interval); 200 seeded
    samples of 2,000 symbols."""
    true, covered = 1.34 / 2.34, 0
    col = [hyplib.Hypothesis("v", lambda b: b, kind="continuous").columns[0]]
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(2000, 5))
        y = x @ np.array([1.0, -0.5, 0.3, 0, 0]) + rng.normal(size=2000)
        insp = LinearProbe(5, col, "cpu", seed=seed)
        insp.update(torch.from_numpy(x.astype(np.float32)),
                    torch.from_numpy(y[:, None].astype(np.float32)))
        r2 = _metrics(insp)["r2"]
        covered += bool(r2.low[0, 0] <= true <= r2.high[0, 0])
    assert 0.90 <= covered / 200 <= 0.99


def test_linear_probe_batches_exactly_and_round_trips():
    x, y = _regression(n=3000)
    cols = [hyplib.Hypothesis("v", lambda b: b, kind="continuous").columns[0]] * 2
    a = _stream(LinearProbe(32, cols, "cpu"), x, y, 3000).scores()
    half = _stream(LinearProbe(32, cols, "cpu"), x[:1000], y[:1000], 1)
    b = LinearProbe(32, cols, "cpu")
    b.load_state_dict(half.state_dict())
    for s, t in zip(a, _stream(b, x[1000:], y[1000:], 333).scores()):
        torch.testing.assert_close(s.score, t.score)
    with pytest.raises(ValueError, match="l2 > 0"):
        LinearProbe(32, cols, "cpu", l2=0)


def test_engine_probes_a_hypothesis_and_its_control_in_one_pass(tmp_path, monkeypatch):
    import datasets

    from hyplib.testing import UPPER_UNIT, PlantedModel

    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    kind = hyplib.Hypothesis("kind", lambda b: [[c.isupper() for c in t] for t in b["text"]],
                             kind="categorical", classes=("lower", "upper"))
    rng = np.random.default_rng(1)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ "))
    texts = ["".join(rng.choice(alphabet, size=80)) for _ in range(100)]
    result = hyplib.inspect(PlantedModel(noise=0.2), datasets.Dataset.from_dict({"text": texts}),
                            [kind, control_task(kind)], ["probe"], device="cpu", progress=False)
    t = result.table.set_index(["hypothesis", "metric", "unit"])["score"]
    assert t["kind", "accuracy", -1] > 0.95
    assert t["control:kind", "accuracy", -1] == pytest.approx(t["control:kind", "majority", -1],
                                                              abs=0.03)
    assert t["kind", "selectivity", -1] > 0.3
    assert t["kind", "rank", UPPER_UNIT] == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    c = np.random.default_rng(8).integers(0, 4, 6000)
    x, y = _planted(c), np.eye(4, dtype=np.float32)[c]
    v = hyplib.Hypothesis("v", lambda b: b, kind="continuous")
    got = []
    for dev in ("cpu", "cuda"):
        probe = _stream(Probe(64, H.columns, dev, epochs=5), x, y, 1000, dev)
        lin = _stream(LinearProbe(64, v.columns, dev, l1=1e-3), x, x[:, 5:6] + x[:, 17:18], 1000,
                      dev)
        got.append((_metrics(probe), _metrics(lin)))
    (cpu, lin_cpu), (gpu, lin_gpu) = got
    assert gpu["accuracy"].score.item() == pytest.approx(cpu["accuracy"].score.item(), abs=0.01)
    assert torch.equal(gpu["majority"].score.cpu(), cpu["majority"].score)
    assert set(gpu["rank"].score[PLANTED, 0].tolist()) == {1.0, 2.0, 3.0}
    for metric in ("r2", "r2_top10", "weight"):
        torch.testing.assert_close(lin_gpu[metric].score.cpu(), lin_cpu[metric].score,
                                   rtol=1e-4, atol=1e-5)


def test_discovered_through_entry_point():
    from hyplib.plugins import load_catalog

    assert load_catalog().get("inspectors", "probe") is Probe
    assert load_catalog().get("inspectors", "linear_probe") is LinearProbe
