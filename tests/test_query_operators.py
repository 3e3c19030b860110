"""i-Algebra's operators in HQL, each against an independent numpy/pandas computation on planted
models whose true units are known; the bootstrap's intervals against their coverage."""
import numpy as np
import pandas as pd
import pytest
import torch

import hyplib
from hyplib.query.bootstrap import ReplicatedCorrelation, poisson_weights, record_key
from hyplib.testing import DIGIT_UNIT, UPPER_UNIT, PlantedModel

from .conftest import digit, upper


@hyplib.hypothesis("test.first_half")
def first_half(text):
    return [i < len(text) / 2 for i in range(len(text))]


@pytest.fixture
def models():
    return {"planted": PlantedModel(), "noisy": PlantedModel(noise=1.5, name="noisy")}


@pytest.fixture
def run(records, models):
    def go(text, **extra):
        return hyplib.query.run(text, models=models, data={"recs": records},
                                hypotheses=[digit, upper, first_half], progress=False,
                                device="cpu", evaluations=extra.pop("evaluations", None),
                                **extra)
    return go


def behaviour(model, records):
    """Per symbol: the model's units, its record, its position, and the labels, from the
    module itself and Python's str methods."""
    texts = list(records["text"])
    enc = model.encode(texts)
    with torch.no_grad():
        out = model.module(**enc.inputs).numpy()
    valid = enc.inputs["codes"].numpy() >= 0
    chars = [c for t in texts for c in t]
    return pd.DataFrame({
        "record": np.repeat(np.arange(len(texts)), [len(t) for t in texts]),
        "position": np.concatenate([np.arange(len(t)) for t in texts]),
        "half": np.concatenate([np.arange(len(t)) < len(t) / 2 for t in texts]),
        "test.digit": [c.isdigit() for c in chars], "test.upper": [c.isupper() for c in chars],
    }), out[valid].astype(np.float64)


def corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of each column of x with y."""
    return np.array([np.corrcoef(x[:, u], y.astype(float))[0, 1] for u in range(x.shape[1])])


def test_selection_keeps_named_units_and_the_units_of_another_result(run, records, models):
    res = run("""LET best = INSPECT planted AGAINST test.digit, test.upper OVER recs
                     ORDER BY |score| DESC LIMIT 1 PER hypothesis;
                 LET chosen = INSPECT planted:features[3, 5..6] AGAINST test.upper OVER recs;
                 LET again = INSPECT UNITS OF best AGAINST test.upper OVER recs""")
    assert dict(zip(res["best"].table["hypothesis"], res["best"].table["unit"])) == {
        "test.digit": DIGIT_UNIT, "test.upper": UPPER_UNIT}
    frame, x = behaviour(models["planted"], records)
    want = corr(x, frame["test.upper"].to_numpy())
    chosen = res["chosen"].table
    assert list(chosen["unit"]) == [3, 5, 6]
    np.testing.assert_allclose(chosen["score"], want[[3, 5, 6]], atol=1e-5)
    again = res["again"].table
    assert sorted(again["unit"]) == [DIGIT_UNIT, UPPER_UNIT]
    assert res["again"].meta["pass"] == 2  # it needed best's units first


@pytest.mark.parametrize("projection,rows", [("WINDOW 0..20", lambda f: f["position"] < 20),
                                             ("WITHIN test.first_half", lambda f: f["half"])])
def test_projection_scores_only_the_symbols_inside(run, records, models, projection, rows):
    got = run(f"INSPECT planted AGAINST test.digit OVER recs {projection}")["_1"].table
    frame, x = behaviour(models["planted"], records)
    inside = rows(frame).to_numpy()
    want = corr(x[inside], frame["test.digit"].to_numpy()[inside])
    np.testing.assert_allclose(got["score"], want, atol=1e-5)
    assert (got["n"] == inside.sum()).all()
    assert got.loc[got["score"].abs().idxmax(), "unit"] == DIGIT_UNIT


def test_join_pairs_the_units_that_pass_in_both_models(run, records, models):
    got = run("""LET a = INSPECT planted AGAINST test.digit, test.upper OVER recs;
                 LET b = INSPECT noisy AGAINST test.digit, test.upper OVER recs;
                 JOIN a, b ON hypothesis WHERE |score| > 0.08""")["_3"].table
    pairs = set(zip(got["hypothesis"], got["a.unit"], got["b.unit"]))
    want = set()
    for hyp in ("test.digit", "test.upper"):
        frame, xa = behaviour(models["planted"], records)
        _, xb = behaviour(models["noisy"], records)
        ra, rb = corr(xa, frame[hyp].to_numpy()), corr(xb, frame[hyp].to_numpy())
        want |= {(hyp, i, j) for i in np.flatnonzero(np.abs(ra) > 0.08)
                 for j in np.flatnonzero(np.abs(rb) > 0.08)}
    assert pairs == want
    assert ("test.digit", DIGIT_UNIT, DIGIT_UNIT) in pairs
    assert ("test.upper", UPPER_UNIT, UPPER_UNIT) in pairs
    assert {"a.score", "b.score", "a.unit_name", "b.unit_name"} <= set(got.columns)


def weighted_r(x, y, w):
    """Weighted Pearson r of each column of x with y (numpy, float64)."""
    mx, my = (w @ x) / w.sum(), (w @ y) / w.sum()
    cov = w @ ((x - mx) * (y - my)[:, None])
    return cov / np.sqrt((w @ (x - mx) ** 2) * (w @ (y - my) ** 2))


def test_difference_is_paired_with_a_bootstrap_interval(run, records, models):
    got = run("""LET a = INSPECT planted AGAINST test.digit OVER recs;
                 LET b = INSPECT noisy AGAINST test.digit OVER recs;
                 DIFF a, b ON unit BOOTSTRAP 50 SEED 1""")["_3"].table
    frame, xa = behaviour(models["planted"], records)
    _, xb = behaviour(models["noisy"], records)
    y = frame["test.digit"].to_numpy(dtype=float)
    np.testing.assert_allclose(got["score"], corr(xa, y) - corr(xb, y), atol=1e-5)
    # the replicates: record-weighted correlations, recomputed here in numpy
    keys = np.array([record_key(t) for t in records["text"]])
    w = poisson_weights(keys, 50, 1)[frame["record"].to_numpy()]  # symbols × replicates
    reps = np.stack([weighted_r(xa, y, w[:, b]) - weighted_r(xb, y, w[:, b])
                     for b in range(50)], axis=1)
    low, high = np.percentile(reps, [2.5, 97.5], axis=1)
    np.testing.assert_allclose(got["ci_low"], low, atol=1e-6)
    np.testing.assert_allclose(got["ci_high"], high, atol=1e-6)
    # the planted unit loses most in the noisier model: its interval excludes 0
    row = got.set_index("unit").loc[DIGIT_UNIT]
    assert row["ci_low"] > 0.1


def test_difference_of_the_best_unit_per_hypothesis(run, records, models):
    got = run("""LET a = INSPECT planted AGAINST test.digit, test.upper OVER recs;
                 LET b = INSPECT noisy AGAINST test.digit, test.upper OVER recs;
                 DIFF BEST a, b ON hypothesis""")["_3"].table.set_index("hypothesis")
    for hyp in ("test.digit", "test.upper"):
        frame, xa = behaviour(models["planted"], records)
        _, xb = behaviour(models["noisy"], records)
        ra, rb = corr(xa, frame[hyp].to_numpy()), corr(xb, frame[hyp].to_numpy())
        assert got.loc[hyp, "score"] == pytest.approx(np.abs(ra).max() - np.abs(rb).max(),
                                                      abs=1e-5)
        assert got.loc[hyp, "ci_low"] <= got.loc[hyp, "score"] <= got.loc[hyp, "ci_high"]


def digit_recall(model, data):
    """Per record: the share of its digits on which the digit unit is above 0.5."""
    enc = model.encode(list(data["text"]))
    out = model.module(**enc.inputs)[..., DIGIT_UNIT].numpy()
    codes = enc.inputs["codes"].numpy()
    is_digit = (codes >= 48) & (codes <= 57)
    hits = ((out > 0.5) & is_digit).sum(1)
    return np.where(is_digit.sum(1) > 0, hits / np.maximum(is_digit.sum(1), 1), np.nan)


def test_what_if_ablation_re_evaluates_and_differs(run, records, models):
    res = run("""LET intact = EVALUATE recall OF planted OVER recs WHERE length(text) > 30;
                 LET off = EVALUATE recall OF planted OVER recs WHERE length(text) > 30
                     WITH ABLATE planted:features[3];
                 DIFF intact, off ON hypothesis""", evaluations={"recall": lambda m, d: np.nan_to_num(
        digit_recall(m, d), nan=0.0)})
    keep = [i for i, t in enumerate(records["text"]) if len(t) > 30]
    want = np.nan_to_num(digit_recall(models["planted"], records.select(keep)), nan=0.0).mean()
    assert res["intact"].table["score"].item() == pytest.approx(want)
    assert res["off"].table["score"].item() == 0.0  # the unit is off: no digit is recalled
    diff = res["_3"].table.iloc[0]
    assert diff["score"] == pytest.approx(want)
    assert diff["ci_low"] < want < diff["ci_high"] and diff["ci_low"] > 0


def test_poisson_weights_are_poisson_and_fixed_by_key():
    w = poisson_weights(np.arange(4000), 50, seed=0)
    assert w.mean() == pytest.approx(1.0, abs=0.01) and w.var() == pytest.approx(1.0, abs=0.02)
    assert (poisson_weights(np.array([7, 3]), 50) == w[[7, 3]]).all()  # any batch, same draw
    assert not (poisson_weights(np.arange(10), 50, seed=1) == w[:10]).all()


def test_bootstrap_interval_of_a_difference_covers_the_truth():
    """Records with a shared effect (symbols of a record are not independent): x1 and x2 are
    correlated with y at rho1 = 2/sqrt(8) and rho2 = 1/sqrt(5), and with each other; the
    95% paired-bootstrap interval of r1 - r2 covers rho1 - rho2 about 95% of the time."""
    rng = np.random.default_rng(0)
    truth = 2 / np.sqrt(8) - 1 / np.sqrt(5)
    covered, runs, records, per = 0, 200, 60, 10
    for _ in range(runs):
        u, v = rng.normal(size=(2, records))
        y = np.repeat(u, per) + rng.normal(size=records * per)
        x1 = y + rng.normal(size=records * per) + np.repeat(v, per)
        x2 = 0.5 * y + rng.normal(size=records * per) + np.repeat(v, per)
        keys = torch.from_numpy(rng.integers(0, 2 ** 24, records)).repeat_interleave(per)
        boot = ReplicatedCorrelation(2, 1, "cpu", replicates=200, seed=int(rng.integers(1e6)))
        x = torch.from_numpy(np.stack([x1, x2], 1)).float()
        boot.add(x[:300], torch.from_numpy(y[:300, None]).float(), keys[:300])
        boot.add(x[300:], torch.from_numpy(y[300:, None]).float(), keys[300:])
        r = boot.values()[:, :, 0]
        low, high = np.percentile(r[:, 0] - r[:, 1], [2.5, 97.5])
        covered += low <= truth <= high
    assert 0.91 <= covered / runs <= 0.99, covered / runs


def test_evaluation_interval_covers_the_mean():
    """EVALUATE's per-group mean: its 95% record-bootstrap interval covers the true mean of a
    per-record Bernoulli(0.8) outcome about 95% of the time."""
    import datasets

    from hyplib.query.evaluate import evaluation_table
    from hyplib.query.statements import DataSpec, Evaluate

    rng = np.random.default_rng(1)
    q = Evaluate("accuracy", None, DataSpec("d"))
    covered, runs = 0, 200
    for run in range(runs):
        data = datasets.Dataset.from_dict({"text": [f"{run}-{i}" for i in range(80)]})
        row = evaluation_table(rng.random(80) < 0.8, data, q, "m", 200, run).iloc[0]
        covered += row["ci_low"] <= 0.8 <= row["ci_high"]
    assert 0.91 <= covered / runs <= 0.99, covered / runs


def test_difference_across_two_data_sets(run, records, models):
    """Clean vs perturbed records (digits replaced by 'x' in half the records): separate
    passes, the same unit compared; records left unchanged share their bootstrap weights."""
    import datasets

    texts = list(records["text"])
    perturbed = datasets.Dataset.from_dict({"text": [
        "".join("x" if c.isdigit() else c for c in t) if i % 2 else t
        for i, t in enumerate(texts)]})
    got = hyplib.query("""LET clean = INSPECT planted:features[3] AGAINST test.upper OVER recs;
                          LET noisy = INSPECT planted:features[3] AGAINST test.upper OVER other;
                          DIFF clean, noisy ON unit""", models=models,
                       data={"recs": records, "other": perturbed}, hypotheses=[upper],
                       progress=False, device="cpu").table.iloc[0]
    frame, x = behaviour(models["planted"], records)
    frame_p, x_p = behaviour(models["planted"], perturbed)
    want = (corr(x[:, [DIGIT_UNIT]], frame["test.upper"].to_numpy())
            - corr(x_p[:, [DIGIT_UNIT]], frame_p["test.upper"].to_numpy()))[0]
    assert got["score"] == pytest.approx(want, abs=1e-5)
    assert got["ci_low"] < want < got["ci_high"]


def test_projection_onto_an_image_box():
    """WINDOW BOX on a planted conv model: the correlation of each unit of the full-resolution
    layer with the red square, over the pixels of rows 4..16, columns 6..20 only."""
    from .test_pixels import S, _model, _scenes, region

    data, model = _scenes(20), _model()
    got = hyplib.query("INSPECT planted:features.0 AGAINST test.region OVER scenes "
                       "WINDOW BOX 4, 6 .. 16, 20 KEEP label = 'red'",
                       models={"planted": model}, data={"scenes": data}, hypotheses=[region],
                       progress=False, device="cpu").table
    with torch.no_grad():
        fmap = model.module.features[0](model.encode(data["image"]).inputs["pixels"]).numpy()
    red = np.stack([np.asarray(m) == 1 for m in data["mask"]])  # images × S × S
    x = fmap[:, :, 4:16, 6:20].transpose(0, 2, 3, 1).reshape(-1, fmap.shape[1])
    want = corr(x.astype(np.float64), red[:, 4:16, 6:20].reshape(-1))
    np.testing.assert_allclose(got["score"], want, atol=1e-4)
    assert (got["n"] == 20 * 12 * 14).all() and S == 24
    assert got.loc[got["score"].idxmax(), "unit"] == 0
