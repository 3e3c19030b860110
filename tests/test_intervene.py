"""Unit ablation: exact values downstream, recurrent ablation of LSTMs, hooks removed, errors."""
import copy

import datasets
import numpy as np
import pytest
import torch
from torch import nn

import hyplib
from hyplib.errors import HyplibError, LayerError
from hyplib.extract import record
from hyplib.intervene import ablate, parse_units, run_lstm, unit_means
from hyplib.testing import DIGIT_UNIT, UPPER_UNIT, PlantedModel


class Net(nn.Module):
    """Embedding → two single-layer LSTMs → a linear head, like hyplib's word LMs."""

    def __init__(self, hidden=6):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(10, 5)
        self.lstm = nn.ModuleList([nn.LSTM(5, hidden, batch_first=True),
                                   nn.LSTM(hidden, hidden, batch_first=True)])
        self.head = nn.Linear(hidden, 10)

    def forward(self, ids):
        h = self.embed(ids)
        for layer in self.lstm:
            h, _ = layer(h)
        return self.head(h)


IDS = torch.tensor([[1, 4, 2, 7, 3, 3, 9], [5, 0, 8, 2, 6, 1, 1]])


@pytest.mark.parametrize("batch_first,layers,with_state", [(True, 1, False), (False, 2, True)])
def test_stepwise_runner_equals_the_fused_lstm(batch_first, layers, with_state):
    torch.manual_seed(1)
    lstm = nn.LSTM(4, 5, num_layers=layers, batch_first=batch_first)
    x = torch.randn(3, 6, 4) if batch_first else torch.randn(6, 3, 4)  # 3 sequences of 6
    hx = (torch.randn(layers, 3, 5), torch.randn(layers, 3, 5)) if with_state else None
    want, (hn, cn) = lstm(x, hx)
    got, (gh, gc) = run_lstm(lstm, x, hx)
    for a, b in ((got, want), (gh, hn), (gc, cn)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    one = x[0] if batch_first else x[:, 0]  # an unbatched sequence
    one_hx = None if hx is None else (hx[0][:, 0], hx[1][:, 0])
    torch.testing.assert_close(run_lstm(lstm, one, one_hx)[0], lstm(one, one_hx)[0],
                               atol=1e-5, rtol=1e-5)


def test_ablated_lstm_units_read_exactly_the_value_downstream():
    net = Net()
    with ablate(net, {"lstm.0": [1, 4]}), record(net, ["lstm.0", "lstm.1"]) as seen:
        logits = net(IDS)
    h0 = seen["lstm.0"]
    assert (h0[..., [1, 4]] == 0).all()
    assert (h0[..., [0, 2, 3, 5]] != 0).all()
    # what lstm.1 and the head read is the ablated h: recompute downstream from it
    torch.testing.assert_close(logits, net.head(net.lstm[1](h0)[0]))
    with ablate(net, ["model:lstm.1[2]"], value=0.5), record(net, ["lstm.1"]) as seen:
        net(IDS)
    assert (seen["lstm.1"][..., 2] == 0.5).all()


@pytest.mark.parametrize("value", [0.0, 0.7])
def test_recurrent_ablation_equals_removing_the_unit_from_the_weights(value):
    """Holding h_j at v is the same network as one whose recurrent and outgoing weights from
    unit j are zero and whose biases receive v times them: computed by the fused kernel."""
    net, j = Net(), 3
    with ablate(net, {"lstm.1": [j]}, value=value):
        got = net(IDS)
    ref = copy.deepcopy(net)
    with torch.no_grad():
        lstm = ref.lstm[1]
        lstm.bias_hh_l0 += value * lstm.weight_hh_l0[:, j]
        lstm.weight_hh_l0[:, j] = 0
        ref.head.bias += value * ref.head.weight[:, j]
        ref.head.weight[:, j] = 0
    torch.testing.assert_close(got, ref(IDS), atol=1e-5, rtol=1e-5)
    # and the recurrence did change: with 0 (the initial state) the other units differ only
    # after the first step
    with record(net, ["lstm.1"]) as plain:
        net(IDS)
    with ablate(net, {"lstm.1": [j]}, value=value), record(net, ["lstm.1"]) as ablated:
        net(IDS)
    others = [u for u in range(6) if u != j]
    a, b = ablated["lstm.1"][..., others], plain["lstm.1"][..., others]
    if value == 0:
        torch.testing.assert_close(a[:, 0], b[:, 0])
    assert (a[:, 1:] - b[:, 1:]).abs().max() > 1e-3


def test_other_layers_change_only_the_chosen_units():
    net = Net()
    with record(net, ["embed"]) as plain:
        net(IDS)
    with ablate(net, ["embed[0]", "embed[3]"], value=-2.0), record(net, ["embed"]) as seen:
        net(IDS)
    assert (seen["embed"][..., [0, 3]] == -2).all()
    assert torch.equal(seen["embed"][..., [1, 2, 4]], plain["embed"][..., [1, 2, 4]])
    conv = nn.Sequential(nn.Conv2d(1, 4, 3))
    with ablate(conv, {"0": [2]}):
        out = conv(torch.randn(2, 1, 5, 5))
    assert (out[:, 2] == 0).all() and (out[:, [0, 1, 3]] != 0).all()


def test_hooks_are_removed_on_exit_even_after_an_error():
    net = Net()
    before = net(IDS)
    with pytest.raises(RuntimeError, match="boom"):
        with ablate(net, {"lstm.0": [0], "head": [1]}):
            assert not torch.equal(net(IDS), before)
            raise RuntimeError("boom")
    assert all(not m._forward_hooks for m in net.modules())
    assert torch.equal(net(IDS), before)


def test_around_inspect_an_ablated_unit_no_longer_tracks_its_concept():
    model = PlantedModel(noise=0.05)
    data = datasets.Dataset.from_dict({"text": ["Ab1 C22 x9Y", "12 AB cd 7", "Q5r 88 Zz"]})

    def scores():
        t = hyplib.inspect(model, data, ["text.is_digit", "text.is_upper"], progress=False).table
        return t.set_index(["unit", "hypothesis"])["score"]

    plain = scores()
    with ablate(model, [f"planted:features[{DIGIT_UNIT}]"]):
        ablated = scores()
    assert plain[(DIGIT_UNIT, "text.is_digit")] > 0.9
    assert np.isnan(ablated[(DIGIT_UNIT, "text.is_digit")])  # a constant unit
    kept = plain.drop(DIGIT_UNIT, level="unit")
    torch.testing.assert_close(torch.tensor(ablated.drop(DIGIT_UNIT, level="unit").values),
                               torch.tensor(kept.values))
    assert ablated[(UPPER_UNIT, "text.is_upper")] > 0.9


def test_the_behaviour_cache_never_mixes_intact_and_ablated_behaviours(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    model = PlantedModel(noise=0.05)
    data = datasets.Dataset.from_dict({"text": ["Ab1 C22 x9Y", "12 AB cd 7", "Q5r 88 Zz"]})

    def digit_score():
        t = hyplib.inspect(model, data, ["text.is_digit"], behaviour_cache=True,
                           progress=False).table
        return t.set_index("unit")["score"][DIGIT_UNIT]

    assert digit_score() > 0.9  # intact, cached
    with ablate(model, {"features": [DIGIT_UNIT]}):
        assert np.isnan(digit_score())  # not the intact cache: the ablated model ran
    assert digit_score() > 0.9
    assert len(list((tmp_path / "behaviours").glob("*.npy"))) == 2


def test_mean_ablation_uses_the_units_means():
    model = PlantedModel(noise=0.3)
    texts = ["Ab1 C22", "x9Y 12"]
    means = unit_means(model, texts, {"features": [DIGIT_UNIT, UPPER_UNIT]}, device="cpu")
    codes = model.encode(texts).inputs["codes"]
    with torch.no_grad():
        full = model.module(codes)
    valid = codes >= 0
    want = full[valid][:, [DIGIT_UNIT, UPPER_UNIT]].mean(0)
    torch.testing.assert_close(torch.tensor(means["features"]), want, atol=1e-6, rtol=1e-6)
    with ablate(model, {"features": [DIGIT_UNIT, UPPER_UNIT]}, value=means), torch.no_grad():
        out = model.module(codes)
    torch.testing.assert_close(out[0, 0, [DIGIT_UNIT, UPPER_UNIT]], want)


def test_unit_names_and_bad_input():
    assert parse_units(["m:lstm.1[3]", "lstm.1[1]", "m:head[0]", "lstm.1[3]"], "m") == {
        "lstm.1": [1, 3], "head": [0]}
    net = Net()
    with pytest.raises(LayerError, match="no layer 'lstm.2'.*lstm.1"):
        with ablate(net, {"lstm.2": [0]}):
            pass
    with pytest.raises(HyplibError, match="write model:layer\\[index\\]"):
        parse_units(["lstm.1:3"])
    with pytest.raises(HyplibError, match="belongs to model 'other'"):
        with ablate(PlantedModel(), ["other:features[1]"]):
            pass
    with pytest.raises(HyplibError, match="'lstm.0' has 6 units \\(0..5\\); cannot ablate unit 6"):
        with ablate(net, {"lstm.0": [6]}):
            pass
    with pytest.raises(HyplibError, match="nn.GRU: recurrent ablation is implemented for "
                                          "nn.LSTM only"):
        with ablate(nn.Sequential(nn.GRU(3, 4)), {"0": [1]}):
            pass
    with pytest.raises(HyplibError, match="bidirectional"):
        with ablate(nn.Sequential(nn.LSTM(3, 4, bidirectional=True)), {"0": [1]}):
            pass
    model = PlantedModel()
    with pytest.raises(HyplibError, match="'features' has 12 units"):  # checked when it runs
        with ablate(model, {"features": [12]}), torch.no_grad():
            model.module(model.encode(["a"]).inputs["codes"])
    assert all(not m._forward_hooks for m in net.modules())
