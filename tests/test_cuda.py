"""On a CUDA device the engine gives the CPU's numbers: text, sub-word and image models, every
per-unit inspector, two models in one pass, the behaviour cache, reduced precision and ablation.
Skipped without CUDA.

Tolerances: at ``precision="float32"`` the engine turns off TF32 (which PyTorch allows in
cuDNN's convolutions and RNNs by default), so the models' kernels differ between devices only
by float32 rounding; statistics from moments then agree to 1e-4, and those from histograms
(MI, AUC, IoU) to 1e-3, since a symbol lying on a bin edge may fall on either side of it.
"""
import datasets
import numpy as np
import pandas as pd
import pytest
import torch
from hyplib_zoo.charlm import CharLM, CharLMConfig, CharLSTM

import hyplib
from hyplib.engine import inspect, model_precision
from hyplib.errors import BehaviourError
from hyplib.intervene import ablate, run_lstm
from hyplib.testing import DIGIT_UNIT, PlantedModel

from .conftest import char_kind, digit, upper

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

PER_UNIT = ["correlation", "point_biserial", "selectivity", "mutual_info", "auc", "iou"]
MOMENTS = {"r", "point_biserial", "selectivity"}
KEY = ["model", "layer", "unit", "hypothesis", "column", "inspector", "metric"]


def charlm(hidden=64):
    torch.manual_seed(0)
    return CharLM("charlm", CharLSTM(CharLMConfig(hidden=hidden)),
                  ("lstm.0", "lstm.1", "cells.0", "cells.1"))


def both(run) -> tuple[pd.DataFrame, pd.DataFrame]:
    cpu, cuda = run("cpu"), run("cuda")
    assert cuda.meta["device"].startswith("cuda") and cpu.meta["device"] == "cpu"
    keys = [k for k in KEY if k in cpu.table]
    return (cpu.table.sort_values(keys).reset_index(drop=True),
            cuda.table.sort_values(keys).reset_index(drop=True))


def assert_same(cpu: pd.DataFrame, cuda: pd.DataFrame, moments=1e-4, histograms=1e-3):
    assert len(cpu) == len(cuda) > 0
    assert (cpu["n"].to_numpy() == cuda["n"].to_numpy()).all()
    for metric, part in cpu.groupby("metric"):
        tol = moments if metric in MOMENTS else histograms
        for field in ("score", "ci_low", "ci_high"):
            np.testing.assert_allclose(cuda.loc[part.index, field], part[field], atol=tol,
                                       equal_nan=True, err_msg=f"{metric} {field}")


def test_char_lstm_every_inspector_two_models_one_pass(records):
    models = [charlm(), PlantedModel()]
    hyps = [digit, upper, char_kind, "text.*"]
    cpu, cuda = both(lambda dev: inspect(models, records, hyps, PER_UNIT, device=dev,
                                         layers={"charlm": list(models[0].default_layers)},
                                         progress=False))
    assert set(cpu["layer"]) == {"lstm.0", "lstm.1", "cells.0", "cells.1", "features"}
    assert_same(cpu, cuda)


def test_probe_on_cuda_scores_as_on_the_cpu(records):
    cpu, cuda = both(lambda dev: inspect(charlm(32), records, [char_kind], ["probe"],
                                         device=dev, progress=False))
    acc = cpu["metric"] == "accuracy"
    np.testing.assert_allclose(cuda.loc[acc, "score"], cpu.loc[acc, "score"], atol=0.01)


def test_behaviour_cache_on_cuda(records, tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    model = charlm()

    def run(hyps, dev="cuda"):
        return inspect(model, records, hyps, ["correlation", "mutual_info"], device=dev,
                       behaviour_cache=True, progress=False).table

    run([digit])  # fills the cache
    cached = run([upper, char_kind])
    model.module.to("cpu")
    plain = inspect(model, records, [upper, char_kind], ["correlation", "mutual_info"],
                    device="cpu", progress=False).table
    assert_same(plain, cached)


def test_reduced_precision_on_cuda(records):
    model = PlantedModel()
    full = inspect(model, records, [digit, upper], device="cpu", progress=False).table
    for precision in ("tf32", "bfloat16", "float16"):
        half = inspect(model, records, [digit, upper], device="cuda", precision=precision,
                       progress=False).table
        np.testing.assert_allclose(half["score"], full["score"], atol=0.02)


def test_image_model_pixels_and_images():
    from .test_pixels import _model, _scenes, region

    data = _scenes(20)
    cpu, cuda = both(lambda dev: inspect(_model(), data, [region], ["iou", "correlation"],
                                         device=dev, progress=False))
    assert_same(cpu, cuda, moments=1e-3)


def test_sub_word_model_words(records):
    pytest.importorskip("transformers")
    from hyplib_zoo import hf
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    texts = [" ".join(t.split()) or "x" for t in records["text"]]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>")
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=32, n_layer=2, n_head=2)
    model = hf.HFModel("gpt2-tiny", GPT2LMHeadModel(cfg), tokenizer)
    spans = [[(i, i + len(w)) for i, w in _words(t)] for t in texts]
    data = datasets.Dataset.from_dict({"text": texts, "word_spans": spans})
    long_word = hyplib.Hypothesis("test.long_word", level="word", fn=lambda batch: [
        [b - a > 4 for a, b in spans] for spans in batch["word_spans"]])
    cpu, cuda = both(lambda dev: inspect(model, data, [long_word], ["correlation", "auc"],
                                         device=dev, progress=False))
    assert_same(cpu, cuda)


def _words(text):
    pos = 0
    for w in text.split(" "):
        yield pos, w
        pos += len(w) + 1


def test_ablation_and_the_stepwise_lstm_on_cuda(records):
    lstm = torch.nn.LSTM(8, 16, batch_first=True).cuda()
    x = torch.randn(4, 50, 8, device="cuda")
    with torch.inference_mode(), model_precision("float32", torch.device("cuda")):  # no TF32
        torch.testing.assert_close(run_lstm(lstm, x)[0], lstm(x)[0], rtol=0, atol=1e-5)
    model = PlantedModel(noise=0.05)
    with ablate(model, {"features": [DIGIT_UNIT]}):
        t = inspect(model, records, [digit], device="cuda", progress=False).table
    assert np.isnan(t.set_index("unit")["score"][DIGIT_UNIT])
    # the finiteness test is read once per batch on CUDA; it still names the unit and record
    with ablate(model, {"features": [DIGIT_UNIT]}, value=float("nan")), \
            pytest.raises(BehaviourError, match=rf"planted:features\[{DIGIT_UNIT}\] is nan on "
                                                rf"record \d+"):
        inspect(model, records, [digit], device="cuda", progress=False)
