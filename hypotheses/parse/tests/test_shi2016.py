"""The shi2016 study: its control model, and its quick run through the CLI."""

import pytest
import torch
from hyplib_parse.studies import TARGETS
from hyplib_zoo.wordlm import WordLM, WordLMConfig, WordLSTM, train, untrained

from hyplib.testing import held_on_control, quick_study, ud_ewt_or_skip


def test_untrained_is_the_recipes_initialisation():
    cfg = WordLMConfig(hidden=4, embed=3, epochs=1, lr=0.0)  # lr 0: training keeps the init
    module, vocab, _ = train(["the cat sat .", "the dog sat ."], cfg, progress=False)
    control = untrained(WordLM("wordlm", module, vocab, ("lstm.0", "lstm.1")), cfg)
    assert control.name == "untrained" and control.vocab == vocab
    assert control.default_layers == ("lstm.0", "lstm.1")
    assert isinstance(control.module, WordLSTM)
    for k, v in module.state_dict().items():
        assert torch.equal(v, control.module.state_dict()[k]), k


def test_quick_run_judges_every_claim(tmp_path):
    ud_ewt_or_skip()
    record, folder, out = quick_study("shi2016", tmp_path)
    assert [c["id"] for c in record["claims"]] == list(TARGETS)
    assert [c["id"] for c in record["checks"]] == [f"{t}.above_majority" for t in TARGETS]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"] + record["checks"])
    figures = record["figures"]
    for short in TARGETS:
        assert 0 < figures[f"accuracy.{short}"] <= 1 and 0 < figures[f"majority.{short}"] <= 1
        assert figures[f"above_majority.{short}"] == pytest.approx(
            figures[f"accuracy.{short}"] - figures[f"majority.{short}"])
        assert figures[f"accuracy_gain.{short}"] == pytest.approx(
            figures[f"accuracy.{short}"] - figures[f"accuracy_untrained.{short}"])
        assert figures[f"learned_gain.{short}"] == pytest.approx(
            figures[f"balanced_accuracy.{short}"]
            - figures[f"balanced_accuracy_untrained.{short}"])
    for name in ("probe_accuracy.png", "report.md", "scores.csv", "accuracy.csv"):
        assert (folder / name).stat().st_size > 300
    assert "depth_bin.above_majority" in out


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("shi2016", tmp_path) == []


def test_every_claim_fails_on_shuffled_labels(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("shi2016", tmp_path, "shuffled") == []
