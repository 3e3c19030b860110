"""The char-LSTM recipe: deterministic training, cached by recipe hash, hookable layers."""
import torch
from hyplib_zoo.charlm import TINY, cell_states, encode_ids, load

from hyplib.extract import layer_names


def test_tiny_recipe_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    a = load(TINY, progress=False)
    files = sorted((tmp_path / "models").iterdir())
    assert [f.name for f in files] == [a.checkpoint.name, a.checkpoint.name + ".sum"]
    mtime = files[0].stat().st_mtime_ns
    b = load(TINY, progress=False)
    assert b.checkpoint.stat().st_mtime_ns == mtime  # loaded, not retrained
    for (name, p), q in zip(a.module.state_dict().items(), b.module.state_dict().values()):
        assert torch.equal(p, q), name
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path / "other"))
    c = load(TINY, progress=False)  # trained again from scratch: the same weights
    assert torch.equal(c.module.head.weight, a.module.head.weight)
    assert a.record["held_out_bits_per_char"] < 6.6  # better than uniform over 99 symbols
    assert load(TINY, progress=False, seed=1).checkpoint != a.checkpoint


def test_layers_and_encoding():
    m = load(TINY, progress=False)
    assert m.default_layers == ("lstm.0", "lstm.1")
    assert {"embed", "lstm.0", "lstm.1", "head"} <= set(layer_names(m.module))
    enc = m.encode(["ab\n", "\t€"])
    assert enc.inputs["ids"].shape == (2, 3)
    assert enc.spans[1].tolist() == [[0, 1], [1, 2], [-1, -1]]
    assert encode_ids("€")[0] == 1  # non-ASCII is UNK


def test_cell_states_match_a_step_by_step_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 7, batch_first=True)
    x = torch.randn(3, 300, 5) * 3  # saturating gates: long products of forget gates
    h, (_, c_last) = lstm(x)
    cell = torch.nn.LSTMCell(5, 7)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    hs, cs = torch.zeros(3, 7), torch.zeros(3, 7)
    ref = []
    for t in range(x.shape[1]):
        hs, cs = cell(x[:, t], (hs, cs))
        ref.append(cs)
    with torch.no_grad():
        got = cell_states(lstm, x, h)
    torch.testing.assert_close(got, torch.stack(ref, 1).detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[:, -1], c_last[0].detach(), atol=1e-5, rtol=1e-5)
