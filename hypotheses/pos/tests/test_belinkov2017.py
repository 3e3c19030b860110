"""The belinkov2017 study: its quick run through the CLI gives every claim a verdict."""

import pandas as pd
import pytest

from hyplib.testing import held_on_control, quick_study, ud_ewt_or_skip


def test_quick_run_judges_every_claim(tmp_path):
    ud_ewt_or_skip()
    record, folder, out = quick_study("belinkov2017", tmp_path)
    assert [c["id"] for c in record["claims"]] == ["layer1_over_embeddings", "layer2_dip"]
    assert [c["id"] for c in record["checks"]] == ["far_above_majority"]
    judged = record["claims"][:1] + record["checks"]
    assert all(c["verdict"] in ("held", "not held") for c in judged)
    dip = record["claims"][1]
    assert dip["criterion"] == "layer2_dip within [-0.04, 0.01]"
    figures = record["figures"]
    # the band is judged only where layer 1 reads POS at least 0.3 above the majority class
    ends = pd.read_csv(folder / "scores.csv").query("metric == 'accuracy' and layer == 'lstm.0'")
    present = ends["ci_low"].iloc[0] - figures["majority"] >= 0.3
    assert (dip["verdict"] != "not applicable") == present
    if present:
        inside = -0.04 <= dip["ci_low"] <= dip["reproduced"] <= dip["ci_high"] <= 0.01
        assert (dip["verdict"] == "held") == inside
    acc = {layer: figures[f"accuracy.{layer}"] for layer in ("embed", "lstm.0", "lstm.1")}
    assert all(0 < a <= 1 for a in acc.values())
    assert figures["gain.lstm.0_over_embed"] == pytest.approx(acc["lstm.0"] - acc["embed"])
    assert figures["min_margin_over_majority"] == pytest.approx(
        min(acc.values()) - figures["majority"])
    for name in ("probe_accuracy.png", "report.md", "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "layer2_dip" in out and "perplexity" in " ".join(record["notes"])


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("belinkov2017", tmp_path) == []


def test_every_claim_fails_on_shuffled_labels(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("belinkov2017", tmp_path, "shuffled") == []
