"""The shi2016 study: its control model, and its quick run through the CLI."""

import pytest
import torch
from hyplib_parse.studies import TARGETS, untrained
from hyplib_zoo.wordlm import WordLM, WordLMConfig, WordLSTM, train

from hyplib.testing import quick_study, ud_ewt_or_skip


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
    assert [c["id"] for c in record["claims"]] == [
        f"{short}{suffix}" for short in TARGETS for suffix in ("", ".learned")]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"])
    figures = record["figures"]
    for short in TARGETS:
        assert 0 < figures[f"accuracy.{short}"] <= 1 and 0 < figures[f"majority.{short}"] <= 1
        assert figures[f"above_majority.{short}"] == pytest.approx(
            figures[f"accuracy.{short}"] - figures[f"majority.{short}"])
        assert figures[f"learned_gain.{short}"] == pytest.approx(
            figures[f"accuracy.{short}"] - figures[f"accuracy_untrained.{short}"])
    for name in ("probe_accuracy.png", "report.md", "scores.csv", "accuracy.csv"):
        assert (folder / name).stat().st_size > 300
    assert "depth_bin.learned" in out
