"""The word-level LM recipe and word-level inspection of EWT with word and character models."""
import os
import re
import subprocess
import sys

import pytest
from hyplib_zoo.wordlm import TINY, load, tokenize

needs_ewt = pytest.mark.skipif(not os.environ.get("HYPLIB_UD_EWT"),
                               reason="set HYPLIB_UD_EWT to the UD English-EWT folder")


def test_tokenizer_splits_like_ud():
    words, spans = tokenize("I didn't see John's car, ok?")
    assert words == ["i", "did", "n't", "see", "john", "'s", "car", ",", "ok", "?"]
    assert spans[1:3].tolist() == [[2, 5], [5, 8]]


@needs_ewt
def test_tiny_recipe_is_cached_and_encodes_spans():
    a = load(TINY, progress=False)
    b = load(TINY, progress=False)
    assert a.checkpoint == b.checkpoint and a.record["vocab"] == len(a.vocab) > 100
    enc = a.encode(["The cat sat.", "Hi"])
    assert enc.spans[1].tolist() == [[0, 2], [-1, -1], [-1, -1], [-1, -1]]
    assert (enc.inputs["ids"][1, 1:] == 0).all()


def _inspect(model, *hyps):
    return subprocess.run([sys.executable, "-m", "hyplib.cli", "inspect", "--model", model,
                           "--data", "ud-english-ewt", "--hypotheses", *hyps, "--max-records",
                           "150", "--top", "1", "--quiet", "--pool", "last"],
                          capture_output=True, text=True)


@needs_ewt
@pytest.mark.parametrize("model", ["wordlm-tiny", "charlm-tiny"])
def test_word_level_hypotheses_on_word_and_char_models(model):
    run = _inspect(model, "pos.upos", "parse.depth", "parse.sentence.length")
    assert run.returncode == 0, run.stderr
    assert re.match(rf"{model} on ud-english-ewt: 150 of 2001 records", run.stdout)
    rows = [line.split() for line in run.stdout.splitlines()[2:]]
    hyps = [r[0] for r in rows]
    assert "pos.upos=NOUN" in hyps and "parse.depth" in hyps and "parse.sentence.length" in hyps
    assert all(-1 <= float(r[4]) <= 1 for r in rows)


@needs_ewt
def test_study_model_control_is_untrained_with_the_recipes_vocabulary():
    import numpy as np
    import torch
    from hyplib_zoo.wordlm import sentence_losses, study_model, untrained

    def ctx(control):
        return type("Ctx", (), {"scale": "quick", "control": control, "progress": False,
                                "device": "cpu"})()

    trained, cfg = study_model(ctx(None))
    control, _ = study_model(ctx("untrained"))
    assert control.vocab == trained.vocab and cfg == TINY
    again = untrained(trained, cfg, cfg.seed + 1)
    for k, v in control.module.state_dict().items():
        assert torch.equal(v, again.module.state_dict()[k]), k
    texts = ["the cat sat .", "a dog ran home today ."]
    totals, counts = sentence_losses(trained, texts)
    assert counts.tolist() == [3, 5]  # every token but the first is predicted
    assert np.all(totals > 0) and totals.sum() / counts.sum() < np.log(len(trained.vocab))
