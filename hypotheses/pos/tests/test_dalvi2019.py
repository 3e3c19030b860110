"""The dalvi2019 study: its quick run ranks, retrains and ablates, and judges every claim."""

import pandas as pd
import pytest

from hyplib.testing import held_on_control, quick_study, ud_ewt_or_skip


def test_quick_run_judges_every_claim(tmp_path):
    ud_ewt_or_skip()
    record, folder, out = quick_study("dalvi2019", tmp_path)
    assert [c["id"] for c in record["claims"]] == [
        "masking.top_beats_random", "masking.random_beats_bottom", "top_set_suffices",
        "top_beats_random", "ablating_top_hurts_most", "top_over_bottom"]
    assert all(c["verdict"] in ("held", "not held", "not applicable") for c in record["claims"])
    f = record["figures"]
    assert f["k"] == 3  # 10% of the tiny model's 32 units
    assert f["top_share_above_majority"] == pytest.approx(
        (f["accuracy.top"] - f["majority"]) / (f["accuracy.all"] - f["majority"]))
    # classifier masking: the probe trained on all units, 3 units' weights kept
    scores = pd.read_csv(folder / "scores.csv")
    masked = scores[scores["metric"].str.startswith("masked_")].set_index("metric")
    assert list(masked.index) == ["masked_top3", "masked_random3", "masked_bottom3"]
    assert f["masked.top"] == pytest.approx(masked.loc["masked_top3", "score"])
    assert f["masking_top_minus_random"] == pytest.approx(f["masked.top"] - f["masked.random"])
    assert f["majority"] - 0.1 < f["masked.bottom"] < f["accuracy.all"]
    ablation = pd.read_csv(folder / "ablation.csv")
    assert list(ablation["units"]) == ["top", "bottom"] + [f"random{i}" for i in range(1, 11)]
    sets = [set(map(int, s.split())) for s in ablation["indices"]]
    assert all(len(s) == 3 for s in sets) and not sets[0] & sets[1]
    assert not any(sets[0] & s for s in sets[2:])  # random sets avoid the top units
    assert all(c["ci_low"] <= c["reproduced"] <= c["ci_high"] for c in record["claims"]
               if c["reproduced"] is not None)
    # every ablation changes the model: the loss moves, and each set's rise is its own
    assert (ablation["rise_over_intact"].abs() > 1e-6).all()
    assert f["loss_rise.top"] == pytest.approx(ablation["rise_over_intact"][0])
    assert (folder / "ablation.png").stat().st_size > 2000


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("dalvi2019", tmp_path) == []


def test_every_claim_fails_on_shuffled_labels(tmp_path):
    ud_ewt_or_skip()
    assert held_on_control("dalvi2019", tmp_path, "shuffled") == []
