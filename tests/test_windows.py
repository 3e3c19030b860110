"""Records longer than the window run in pieces (hyplib.windows): recurrent models give the whole
record's scores, attention models those of their left context; memory follows the window."""
import json
import re
import subprocess
import sys
import textwrap
import warnings

import datasets
import numpy as np
import pytest
import torch

import hyplib
from hyplib import HyplibError, HyplibWarning, inspect
from hyplib.models import Model
from hyplib.testing import PlantedModel, byte_level_bpe

KEY = ["layer", "unit", "hypothesis", "label", "inspector", "metric"]


@hyplib.hypothesis("win.space")
def space(text):
    return [c.isspace() for c in text]


@hyplib.hypothesis("win.kind", kind="categorical", classes=("alpha", "digit", "other"))
def kind(text):
    return ["alpha" if c.isalpha() else "digit" if c.isdigit() else "other" for c in text]


@hyplib.hypothesis("win.capital", level="word", batched=True)
def capital(batch):
    return [[t[s].isupper() for s, _ in sp] for t, sp in zip(batch["text"], batch["word_spans"])]


@hyplib.hypothesis("win.defs", level="record", kind="continuous")
def defs(text):
    return text.count("def ") + text.count("the ") + len(text) % 13


def same_scores(a, b, atol):
    """Both tables have the same rows, symbol counts and scores (to ``atol``)."""
    a, b = a.table, b.table
    joined = a.merge(b, on=KEY, suffixes=("_whole", "_win"))
    assert len(joined) == len(a) == len(b) > 0
    assert (joined.n_whole == joined.n_win).all()
    np.testing.assert_allclose(joined.score_win, joined.score_whole, atol=atol, rtol=0)
    return joined


def source_records():
    """Python source: 8 files (1-5k characters) and two long ones (about 12k and 20k)."""
    from hyplib_zoo.stdlib import read_source, stdlib_files

    texts = [t for t in (read_source(p) for p in stdlib_files("test")[:80]) if t]
    short = [t for t in texts if 1000 < len(t) < 5000][:8]
    texts = short + ["".join(short[:4])[:12_000], "".join(texts)[:20_000]]
    words = [[m.span() for m in re.finditer(r"\S+", t)] for t in texts]
    return datasets.Dataset.from_dict({"text": texts, "word_spans": words})


@pytest.fixture(scope="module")
def charlm():
    from hyplib_zoo.charlm import TINY, load

    return load(TINY, name="charlm-tiny", progress=False)


@pytest.mark.parametrize("pool", ["first", "mean", "last"])
def test_recurrent_model_gives_the_whole_records_scores(charlm, pool):
    """charlm carries its LSTM states (and the cell states' scan) from piece to piece: char,
    word and record scores equal the whole records' to float rounding."""
    data = source_records()
    kw = dict(layers=["lstm.0", "lstm.1", "cells.1"], pool=pool, device="cpu", progress=False,
              batch_size=4)
    whole = inspect(charlm, data, [space, kind, capital], window=0, **kw)
    pieces = inspect(charlm, data, [space, kind, capital], window=700, **kw)
    same_scores(whole, pieces, atol=2e-6)
    assert pieces.meta["symbols"] == whole.meta["symbols"]
    assert pieces.meta["records"] == whole.meta["records"] == len(data)
    records = inspect(charlm, data, [defs], window=700, **kw).table
    np.testing.assert_allclose(records.score, record_scores(charlm, data, kw["layers"], pool),
                               atol=5e-5, rtol=0)


def record_scores(model, data, layers, pool):
    """The correlation of each unit's whole-record behaviour (first, mean or last position,
    in float64: the engine's whole-record mean sums in float32, off by up to 0.008 here) with
    ``defs``, from the whole records' behaviours."""
    from hyplib.engine import behaviours

    seen = behaviours(model, data["text"], layers, device="cpu")
    y = np.array([defs.fn({"text": [t]})[0] for t in data["text"]], float)
    scores = []
    for layer in layers:
        x = np.stack([{"first": h[0], "last": h[-1]}.get(pool, h.astype(float).mean(0))
                      for h in seen[layer]]).astype(float)
        x, yc = x - x.mean(0), y - y.mean()
        scores += list(x.T @ yc / np.sqrt((x ** 2).sum(0) * (yc ** 2).sum()))
    return scores


def test_word_model_reads_the_same_tokens(tmp_path):
    """wordlm's pieces are cut at whitespace no word crosses: the tokens, states and scores
    are the whole records'."""
    from hyplib_zoo.ud import ud_english_ewt
    from hyplib_zoo.wordlm import TINY, load

    try:
        dev = ud_english_ewt("dev", max_sentences=400)
    except HyplibError as exc:
        pytest.skip(f"UD English-EWT is needed: {exc}")
    texts, spans = [], []
    for lo in range(0, 400, 50):  # eight records of 50 sentences (about 3,000 characters)
        pos, text, sp = 0, [], []
        for i in range(lo, lo + 50):
            sp += [[s + pos, e + pos] for s, e in dev["word_spans"][i]]
            text.append(dev["text"][i])
            pos += len(dev["text"][i]) + 1
        texts.append(" ".join(text))
        spans.append(sp)
    data = datasets.Dataset.from_dict({"text": texts, "word_spans": spans})
    lm = load(TINY, name="wordlm-tiny", progress=False)
    kw = dict(device="cpu", progress=False, pool="last")  # (a mean over a record: see above)
    whole = inspect(lm, data, [capital, defs], window=0, **kw)
    pieces = inspect(lm, data, [capital, defs], window=500, **kw)
    same_scores(whole, pieces, atol=2e-5)  # 8 records: a record's r moves 4e-6 with rounding


@pytest.fixture(scope="module")
def bpe():
    """A byte-level BPE (as SmolLM2's) trained here, offline, on EWT sentences."""
    pytest.importorskip("transformers")
    from hyplib_zoo.ud import ud_english_ewt

    try:
        return byte_level_bpe(ud_english_ewt("train", max_sentences=2000)["text"])
    except HyplibError as exc:
        pytest.skip(f"UD English-EWT is needed to train the tokenizer: {exc}")


def ewt_records(n=4, sentences=40):
    from hyplib_zoo.ud import ud_english_ewt

    dev = ud_english_ewt("dev", max_sentences=n * sentences)
    texts = [" ".join(dev["text"][i:i + sentences]) for i in range(0, n * sentences, sentences)]
    words = [[m.span() for m in re.finditer(r"\w+", t)] for t in texts]
    return datasets.Dataset.from_dict({"text": texts, "word_spans": words})


def test_attention_model_with_enough_context_is_exact(bpe):
    """A sliding-window decoder (Mistral, window 8, 2 layers) reaches back 2 × 7 tokens: with
    that context the pieces give the whole records' scores."""
    from transformers import MistralConfig, MistralForCausalLM

    from hyplib_zoo import hf

    torch.manual_seed(0)
    cfg = MistralConfig(vocab_size=len(bpe), hidden_size=32, intermediate_size=64,
                        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                        max_position_embeddings=4096, sliding_window=8)
    model = hf.HFModel("mistral-tiny", MistralForCausalLM(cfg), bpe, context=14)
    data = ewt_records()
    kw = dict(device="cpu", progress=False, pool="first")
    whole = inspect(model, data, [space, capital], window=0, **kw)
    pieces = inspect(model, data, [space, capital], window=400, **kw)
    same_scores(whole, pieces, atol=1e-5)


def test_attention_model_within_its_context(bpe):
    """GPT-2 (global attention, 64 positions) never runs past its positions: whole records of
    about 1,000 tokens are a clear error, pieces run after 32 tokens of context; with more
    positions, scores with that context are close to the whole records'."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from hyplib_zoo import hf

    data = ewt_records()

    def gpt2(positions):
        torch.manual_seed(0)
        cfg = GPT2Config(vocab_size=len(bpe), n_positions=positions, n_embd=32, n_layer=2,
                         n_head=2, bos_token_id=0, eos_token_id=1)
        return hf.HFModel("gpt2-tiny", GPT2LMHeadModel(cfg), bpe, context=32)

    small = gpt2(64)
    widths = []
    forward = small.forward
    small.forward = lambda enc, dev: widths.append(enc.inputs["input_ids"].shape[1]) or \
        forward(enc, dev)
    kw = dict(device="cpu", progress=False, pool="first")
    with pytest.raises(HyplibError, match="takes at most 64 positions"):
        inspect(small, data, [space], window=0, **kw)
    widths.clear()
    result = inspect(small, data, [space, capital], **kw)
    assert 0 < max(widths) <= 64 and len(widths) > 4 * len(data)
    assert result.meta["symbols"]["char"] == sum(len(t) for t in data["text"])
    big = gpt2(4096)
    whole = inspect(big, data, [space, capital], window=0, **kw)
    pieces = inspect(big, data, [space, capital], window=400, **kw)
    joined = same_scores(whole, pieces, atol=0.1)
    assert (joined.score_win - joined.score_whole).abs().max() > 1e-4  # approximate, as said


def test_behaviour_cache_and_calibration_across_pieces(charlm, monkeypatch):
    """A windowed pass fills the behaviour cache; the next reads it a window at a time (the
    model is not run) with the same scores; histogram inspectors calibrate on pieces, and the
    seed still changes no MI score."""
    data = source_records()
    kw = dict(layers=["lstm.1"], device="cpu", progress=False, window=700,
              inspectors=["correlation", "mutual_info"])
    first = inspect(charlm, data, [space, capital, defs], behaviour_cache=True, **kw)
    for method in ("forward", "forward_window"):
        monkeypatch.setattr(type(charlm), method,
                            lambda *a: pytest.fail("the model ran: the cache was not read"))
    again = inspect(charlm, data, [space, capital, defs], behaviour_cache=True, seed=3, **kw)
    same_scores(first, again, atol=1e-6)  # another seed: correlation's float32 sums (2e-7)


def test_early_stopping_counts_long_records(charlm):
    data = source_records()
    result = inspect(charlm, data, [space], layers=["lstm.0"], device="cpu", progress=False,
                     window=700, tolerance=0.5, batch_size=2)
    assert result.meta["stopped"].startswith("converged")
    assert result.meta["records"] < len(data)


class Stateful(PlantedModel):
    window = "state"


@pytest.mark.parametrize("model, window, match", [
    (PlantedModel(), 500, "cannot run a record in pieces.*--window 0"),
    (Stateful(), 500, "does not implement forward_window"),
    (PlantedModel(), -1, r"window \(--window\).* must be a whole number >= 0"),
])
def test_models_that_cannot_be_cut_are_refused(model, window, match):
    data = source_records()
    with pytest.raises(HyplibError, match=match):
        inspect(model, data, [space], window=window, device="cpu", progress=False)


def test_unknown_window_kind_and_default_window():
    """A model of one's own that declares nothing runs whole with the default window, with a
    warning; ``window=0`` runs whole silently; an unknown kind is an error."""
    data = datasets.Dataset.from_dict({"text": ["ab 1" * 5000, "x 9"]})
    with pytest.warns(HyplibWarning, match="declares no window kind"):
        whole = inspect(PlantedModel(), data, [space], device="cpu", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HyplibWarning)
        silent = inspect(PlantedModel(), data, [space], device="cpu", progress=False, window=0)
    assert whole.table.score.tolist() == silent.table.score.tolist()
    odd = PlantedModel()
    odd.window = "sliding"
    with pytest.raises(HyplibError, match="declares window = 'sliding'"):
        inspect(odd, data, [space], device="cpu", progress=False)
    assert Model.window is None


MEMORY = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import datasets, torch
    torch.set_num_threads(1)
    from hyplib import inspect
    from hyplib.annotation import annotate
    from hyplib.plugins import catalog
    from hyplib_zoo.charlm import TINY, load
    from hyplib_zoo.stdlib import read_source, stdlib_files

    chars = int(sys.argv[1])
    parts, total = [], 0
    for path in stdlib_files("all"):
        parts.append(read_source(path) or "")
        total += len(parts[-1])
        if total >= chars:
            break
    text = "".join(parts)
    text = (text * (chars // len(text) + 1))[:chars]
    data = datasets.Dataset.from_dict({"text": [text]})
    model = load(TINY, name="charlm-tiny", progress=False)
    hyps = catalog().select("hypotheses", ["text.is_space"])
    annotate(data, hyps, progress=False)
    def kib(field):
        line = next(l for l in Path("/proc/self/status").read_text().splitlines()
                    if l.startswith(field))
        return int(line.split()[1])
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on
    base = kib("VmRSS:")
    result = inspect(model, data, hyps, device="cpu", progress=False)
    print(json.dumps({"peak_mib": (kib("VmHWM:") - base) / 1024,
                      "symbols": result.meta["symbols"]["char"],
                      "finite": bool(result.table.score.notna().all())}))
""")


def test_a_record_of_millions_of_characters_in_small_memory(tmp_path):
    """One record of 3,000,000 characters through charlm-tiny (2 × 48 units): run whole,
    its logits alone (97 per character, float32) would take 1,110 MiB and one layer's
    behaviours 550 MiB; in windows of 16,384 characters the pass's peak memory stays far
    below either."""
    script = tmp_path / "memory.py"
    script.write_text(MEMORY)
    proc = subprocess.run([sys.executable, str(script), "3000000"], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["symbols"] == 3_000_000 and out["finite"]
    assert out["peak_mib"] < 200, out
