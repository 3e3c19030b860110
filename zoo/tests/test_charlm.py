"""The char-LSTM recipe: deterministic training, cached by recipe hash, hookable layers."""
import pytest
import torch
from hyplib_zoo.charlm import TINY, CellLSTM, encode_ids, load

from hyplib.extract import layer_names, record


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


@pytest.mark.parametrize("lengths", [[300, 120, 1], [120, 300, 1]], ids=["longest-first", "any"])
def test_cell_lstm_matches_torch_and_a_step_by_step_cell(lengths):
    """With lengths, CellLSTM's h equals torch's fused LSTM, its c a step-by-step LSTMCell's,
    on saturating gates and on a padded batch (each record as if alone; zeros at padding),
    whether the records come longest first (no sort) or not."""
    torch.manual_seed(0)
    lstm = CellLSTM(5, 7, batch_first=True)
    x = torch.randn(3, 300, 5) * 3  # saturating gates: long products of forget gates
    lengths = torch.tensor(lengths)
    cell = torch.nn.LSTMCell(5, 7)
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    with torch.no_grad():
        h, (h_n, c_n), c = lstm(x, lengths=lengths)
        for r, n in enumerate(lengths.tolist()):
            fused, _ = torch.nn.LSTM.forward(lstm, x[r:r + 1, :n])
            hs, cs, ref = torch.zeros(1, 7), torch.zeros(1, 7), []
            for t in range(n):
                hs, cs = cell(x[r:r + 1, t], (hs, cs))
                ref.append(cs)
            torch.testing.assert_close(h[r, :n], fused[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(c[r, :n], torch.cat(ref), atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(c_n[0, r], cs[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(h_n[0, r], h[r, n - 1])
            assert not h[r, n:].any() and not c[r, n:].any()
    plain, _ = lstm(x)  # without lengths: torch's own kernel
    full = int(lengths.argmax())  # the record without padding
    torch.testing.assert_close(plain[full], h[full], atol=1e-5, rtol=1e-5)


def test_recording_cells_leaves_the_outputs_alike():
    model = load(TINY, progress=False)
    texts = ["def f(x):\n    return [x, (1, 2)]\n", "import os"]
    enc = model.encode(texts)
    with torch.inference_mode():
        plain = model.module(**enc.inputs)
        with record(model.module, ["lstm.1", "cells.0", "cells.1"]) as seen:
            hooked = model.module(**enc.inputs)
    torch.testing.assert_close(hooked[0], plain[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hooked[1, :9], plain[1, :9], atol=1e-5, rtol=1e-5)
    assert seen["cells.1"].shape == seen["lstm.1"].shape == (2, len(texts[0]), 48)
    assert not seen["cells.0"][1, 9:].any()
