"""Predicted Universal POS tags: spaCy's small English model and an NLTK perceptron tagger.

Both tag the record's own words (the text of its ``word_spans``), so their labels align with
the gold ones. Tags outside the 17 UPOS classes (spaCy's ``SPACE``) become ``X``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import random

from hyplib_zoo.spacy_models import load_spacy

from hyplib import atomic_path, cache_dir, hypothesis, seal, verified

from .gold import UPOS

_UPOS = frozenset(UPOS)


def words(batch: dict) -> list[list[str]]:
    """Each record's words: the text of its word spans."""
    from hyplib import symbol_spans  # imports torch: not at pack import

    return [[text[s:e] for s, e in spans]
            for text, spans in zip(batch["text"], symbol_spans(batch, "word"))]


@hypothesis("pos.spacy.upos", kind="categorical", level="word", classes=UPOS, batched=True)
def spacy_upos(batch):
    """The word's Universal POS tag as spaCy's en_core_web_sm tags it (given the words)."""
    from spacy.tokens import Doc

    nlp = load_spacy(exclude=("parser", "ner", "lemmatizer"))
    docs = nlp.pipe((Doc(nlp.vocab, words=w) for w in words(batch)), batch_size=256)
    return [[t.pos_ if t.pos_ in _UPOS else "X" for t in doc] for doc in docs]


@functools.lru_cache(maxsize=1)
def nltk_tagger():
    """NLTK's perceptron tagger trained on UD English-EWT train (words, UPOS), cached on disk.

    Trained once (5 iterations, seed 0) and stored as JSON under hyplib's cache, keyed by the
    training file's sha256.
    """
    from hyplib_zoo.ud import conllu_path, read_conllu
    from nltk.tag.perceptron import PerceptronTagger

    path = conllu_path("train")
    key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    stored = cache_dir("models") / f"nltk-perceptron-upos-{key}.json"
    schema = {"model": "nltk-perceptron-upos", "corpus": key}
    if not verified(stored, schema):  # missing, or damaged (then moved aside, with a warning)
        train = read_conllu(path)
        tagger = PerceptronTagger(load=False)
        state = random.getstate()
        random.seed(0)
        try:
            tagger.train([list(zip(w, t)) for w, t in zip(train["words"], train["upos"])])
        finally:
            random.setstate(state)
        with atomic_path(stored) as tmp:
            tmp.write_text(json.dumps(tagger.encode_json_obj()))
            seal(stored, schema, tmp)
    return PerceptronTagger.decode_json_obj(json.loads(stored.read_text()))


@hypothesis("pos.nltk.upos", kind="categorical", level="word", classes=UPOS, batched=True)
def nltk_upos(batch):
    """The word's Universal POS tag as NLTK's perceptron tagger, trained on EWT train, tags it."""
    tagger = nltk_tagger()
    return [[t if t in _UPOS else "X" for _, t in tagger.tag(w)] for w in words(batch)]


HYPOTHESES = [spacy_upos, nltk_upos]
