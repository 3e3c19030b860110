"""The lakretz2019 study: its model's cache and agreement test, and its quick run via the CLI."""

import numpy as np
import pandas as pd
import pytest
import torch
from hyplib_grammar import lakretz as L
from hyplib_grammar.agreement import VERBS
from hyplib_zoo.wordlm import WordLMConfig

from hyplib.testing import held_on_control, quick_study

TINY = L.LakretzConfig(sentences=300, lm=WordLMConfig(hidden=8, embed=8, epochs=1, min_count=1))


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    first = L.load(TINY, progress=False)
    assert len(list((tmp_path / "models").glob("lakretz-*.pt"))) == 1
    again = L.load(TINY, progress=False)
    for k, v in first.module.state_dict().items():
        assert torch.equal(v, again.module.state_dict()[k]), k
    assert again.record == first.record and first.default_layers == ("lstm.0", "lstm.1")


def test_agreement_compares_the_verb_with_its_other_form(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    model = L.load(TINY, progress=False)
    data, deps = L.test_set(TINY, 60)
    assert not set(data["text"]) & set(L.training_texts(TINY))
    right = L.agreement(model, list(data["text"]), deps)
    enc = model.encode(list(data["text"]))
    with torch.no_grad():
        logits = model.module(**enc.inputs)
    for i in range(len(deps)):  # the same, one sentence at a time
        row = logits[i, deps.loc[i, "verb"] - 1]
        verb = deps.loc[i, "verb_word"]
        want = row[model.index[verb]] > row[model.index[L.OTHER_FORM[verb]]]
        assert bool(right[i]) == bool(want)
    # a model that always prefers plural forms is right exactly on the plural subjects
    plural_forms = [model.index[p] for pairs in VERBS.values() for _, p in pairs]
    with torch.no_grad():
        model.module.head.bias[plural_forms] += 1e4
    np.testing.assert_array_equal(L.agreement(model, list(data["text"]), deps),
                                  deps["plural"].to_numpy())


def test_quick_run_judges_every_claim(tmp_path):
    record, folder, out = quick_study("lakretz2019", tmp_path)
    assert [c["id"] for c in record["claims"]] == [
        "agreement.attractor", "single_unit.ablation", "number_units.exist",
        "number_units.sparse", "ablation.attractor", "ablation.simple_spared",
        "syntax_units.learned"]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"] + record["checks"])
    assert all(c["ci_low"] <= c["reproduced"] <= c["ci_high"] for c in record["claims"])
    f = record["figures"]
    single = pd.read_csv(folder / "single_unit_ablations.csv")
    assert f["single_unit.max_drop"] == pytest.approx(single["max"].max())
    assert f["syntax_units.learned_gain"] == pytest.approx(
        f["syntax_units.best_abs_r"] - f["syntax_units.best_abs_r_untrained"])
    assert all(0 <= f[f"accuracy.{c}"] <= 1 for c in L.CONDITIONS)
    random = pd.read_csv(folder / "random_ablations.csv")
    assert len(random) == L.DRAWS
    drops = f["accuracy.attractor"] - random["attractor"]
    assert np.isclose(f["ablation_excess.attractor"],
                      f["ablation_drop.attractor"] - drops.mean())
    assert np.isclose(f["ablation_margin.attractor"], f["ablation_drop.attractor"] - drops.max())
    for name in ("agreement_accuracy.png", "best_abs_r.png", "number_units.png", "report.md",
                 "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "ablation.beyond_random" in out


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    assert held_on_control("lakretz2019", tmp_path) == []
