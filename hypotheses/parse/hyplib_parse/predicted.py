"""Dependency hypotheses from spaCy's parse (en_core_web_sm) of the record's own words.

spaCy labels relations with its English (ClearNLP-style) set, :data:`LABELS`, not UD's; a
record spaCy splits into several sentences is a forest, each root at depth 0.
"""
from __future__ import annotations

import functools

import numpy as np
from hyplib_zoo.spacy_models import load_spacy

from hyplib import hypothesis

from . import trees

LABELS = ("ROOT", "acl", "acomp", "advcl", "advmod", "agent", "amod", "appos", "attr", "aux",
          "auxpass", "case", "cc", "ccomp", "compound", "conj", "csubj", "csubjpass", "dative",
          "dep", "det", "dobj", "expl", "intj", "mark", "meta", "neg", "nmod", "npadvmod",
          "nsubj", "nsubjpass", "nummod", "oprd", "parataxis", "pcomp", "pobj", "poss",
          "preconj", "predet", "prep", "prt", "punct", "quantmod", "relcl", "xcomp")
_LABELS = frozenset(LABELS)


@functools.lru_cache(maxsize=2)
def parse(words: tuple[tuple[str, ...], ...]) -> list[tuple[np.ndarray, list[str]]]:
    """(heads, labels) of each word list, parsed in one ``nlp.pipe``; heads 1-based, 0 = root."""
    from spacy.tokens import Doc

    nlp = load_spacy()
    out = []
    for doc in nlp.pipe((Doc(nlp.vocab, words=list(w)) for w in words), batch_size=256):
        head = np.array([t.head.i for t in doc], dtype=np.int64)
        index = np.arange(len(doc))
        out.append((np.where(head == index, 0, head + 1),
                    [t.dep_ if t.dep_ in _LABELS else "dep" for t in doc]))
    return out


def parsed(batch: dict) -> list[tuple[np.ndarray, list[str]]]:
    """spaCy's parse of each record's words (the text of its word spans)."""
    from hyplib import symbol_spans  # imports torch: not at pack import

    return parse(tuple(tuple(text[s:e] for s, e in spans)
                       for text, spans in zip(batch["text"], symbol_spans(batch, "word"))))


@hypothesis("parse.spacy.depth", kind="continuous", level="word", batched=True)
def spacy_depth(batch):
    """The word's depth in spaCy's dependency parse (a root has depth 0)."""
    return [trees.depth(head) for head, _ in parsed(batch)]


@hypothesis("parse.spacy.deprel", kind="categorical", level="word", classes=LABELS, batched=True)
def spacy_deprel(batch):
    """The word's dependency label in spaCy's parse (spaCy's English label set)."""
    return [labels for _, labels in parsed(batch)]


HYPOTHESES = [spacy_depth, spacy_deprel]
