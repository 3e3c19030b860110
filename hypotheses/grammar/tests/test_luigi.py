"""The luigi-fsm study: its model, and its quick run through the CLI."""

import numpy as np
import pytest
import torch
from hyplib_grammar import luigi as L

from hyplib.testing import held_on_control, quick_study


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    cfg = L.LuigiConfig(train=64, test=8, epochs=1)
    first = L.load(cfg)
    again = L.untrained(cfg)
    L.train(cfg, again)
    for k, v in first.module.state_dict().items():
        assert torch.equal(v, again.module.state_dict()[k]), k
    assert len(list((tmp_path / "models").glob("luigi-fsm-*.pt"))) == 1
    cached = L.load(cfg)
    assert cached.record == first.record
    initial = L.untrained(cfg).module.lstm.weight_hh_l0
    assert not torch.equal(initial, first.module.lstm.weight_hh_l0)


def test_encode_one_position_per_character():
    model = L.untrained(L.QUICK)
    enc = model.encode(["T&F", "F"])
    assert enc.inputs["ids"].tolist() == [[1, 3, 2], [2, 0, 0]]
    assert enc.spans[1].tolist() == [[0, 1], [-1, -1], [-1, -1]]
    with pytest.raises(ValueError, match="only the characters T F & |"):
        model.encode(["T&x"])


def test_quick_run_judges_every_claim(tmp_path):
    record, folder, out = quick_study("luigi-fsm", tmp_path)
    assert [c["id"] for c in record["claims"]] == ["model_accuracy", "probe_state",
                                                   "probe_state.learned"]
    assert all(c["verdict"] in ("held", "not held") for c in record["claims"])
    figures = record["figures"]
    assert all(0 <= figures[k] <= 1 for k in ("model_accuracy", "probe_accuracy.state",
                                              "probe_accuracy_untrained.state"))
    assert np.isclose(figures["learned_gain.state"], figures["probe_accuracy.state"]
                      - figures["probe_accuracy_untrained.state"])
    for name in ("probe_accuracy.png", "activations.png", "report.md", "scores.csv"):
        assert (folder / name).stat().st_size > 500
    assert "![activations](activations.png)" in (folder / "report.md").read_text()
    assert "probe_state.learned" in out


def test_every_claim_fails_on_the_untrained_control(tmp_path):
    assert held_on_control("luigi-fsm", tmp_path) == []
