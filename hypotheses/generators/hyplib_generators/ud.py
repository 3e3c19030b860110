"""Generators over Universal Dependencies records (``hyplib.ud``): one word-level hypothesis
per morphological feature value (CoNLL-U FEATS), UPOS tag and dependency relation."""
from __future__ import annotations

from collections import Counter

from hyplib import Hypothesis, frequent, hypothesis

from .text import VERSION, safe


def feats(data, cap: int, min_count: int) -> list[Hypothesis]:
    """``auto.feats.Number=Plur``: the word's FEATS (``A=B|C=D``, ``_`` for none) hold it."""
    counts = Counter()
    for words in data["feats"]:
        counts.update(fv for f in words if f != "_" for fv in f.split("|"))
    return [_feature(fv) for fv in frequent(counts, cap, min_count)]


def _feature(fv: str) -> Hypothesis:
    @hypothesis(f"auto.feats.{safe(fv)}", level="word", field="feats", version=VERSION,
                description=f"The word's morphological features include {fv}.")
    def fn(words):
        return [fv in f.split("|") for f in words]
    return fn


def tags(data, cap: int, min_count: int) -> list[Hypothesis]:
    """``auto.upos.NOUN``, ``auto.deprel.nsubj``: the word's tag or relation is that value
    (``cap`` per field)."""
    out = []
    for field in ("upos", "deprel"):
        counts = Counter()
        for words in data[field]:
            counts.update(words)
        out += [_tag(field, v) for v in frequent(counts, cap, min_count) if v != "_"]
    return out


def _tag(field: str, value: str) -> Hypothesis:
    @hypothesis(f"auto.{field}.{safe(value)}", level="word", field=field, version=VERSION,
                description=f"The word's {field} is {value}.")
    def fn(words):
        return [w == value for w in words]
    return fn
