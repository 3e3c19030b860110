"""Control tasks (Hewitt & Liang 2019): give every symbol *type* a fixed random class.

Anywhere a hypothesis is named, ``control:NAME`` (or a glob, ``control:pos.upos*``) names the
control task of ``NAME``; the ``probe`` inspector reports the selectivity of ``NAME`` when both
are chosen. :func:`shuffled_labels` is the other negative control: a hypothesis's own labels,
permuted between the records of one data set.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Sequence

import numpy as np

from .errors import AnnotationError
from .types import Hypothesis

PREFIX = "control:"
SHUFFLED = "shuffled:"


def control_task(hyp: Hypothesis, seed: int = 0,
                 priors: Sequence[float] | None = None) -> Hypothesis:
    """The control task of a binary or categorical hypothesis, named ``control:<name>``.

    Each symbol's type (its character at char level, its word ``text[start:end]`` at word
    level, the whole text at record level) is hashed with ``seed`` to a number u in [0, 1), and
    its class is the inverse CDF of ``priors`` at u; so the class depends only on the type and
    the seed, and over many types the classes follow ``priors``. Pass the task's class
    frequencies as ``priors`` to match Hewitt & Liang, who draw from the empirical class
    distribution (they are per *symbol*, so frequent types weigh more than in their per-type
    draw); without them the classes are uniform. The result has the same kind, classes and
    level; its version encodes the seed and priors, so the annotation cache tells them apart.
    """
    if hyp.kind == "continuous":
        raise ValueError(f"control tasks need a binary or categorical hypothesis; "
                         f"{hyp.name!r} is continuous")
    n = len(hyp.classes) if hyp.kind == "categorical" else 2
    p = np.full(n, 1.0 / n) if priors is None else np.asarray(priors, dtype=np.float64)
    if p.shape != (n,) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"priors for {hyp.name!r} must be {n} non-negative numbers with a "
                         f"positive sum, not {list(np.atleast_1d(p))}")
    cdf = np.cumsum(p / p.sum())
    version = f"{hyp.version}.control-s{seed}"
    if priors is not None:
        version += "-p" + hashlib.blake2b(p.tobytes(), digest_size=4).hexdigest()

    @functools.lru_cache(maxsize=1 << 16)
    def label(symbol_type: str) -> int:
        digest = hashlib.blake2b(f"{seed}\0{symbol_type}".encode(), digest_size=8).digest()
        return min(int(np.searchsorted(cdf, int.from_bytes(digest, "big") / 2.0 ** 64,
                                       side="right")), n - 1)

    def classify(types) -> list[int]:
        return [label(t) for t in types]

    def fn(batch: dict[str, list]) -> list:
        texts = batch["text"]
        if hyp.level == "char":
            return [classify(list(text)) for text in texts]
        if hyp.level == "word":
            return [classify([text[s:e] for s, e in spans])
                    for text, spans in zip(texts, batch["word_spans"])]
        return classify(texts)

    return Hypothesis(f"{PREFIX}{hyp.name}", fn, hyp.kind, hyp.level, version, hyp.classes,
                      f"Control task for {hyp.name} (Hewitt & Liang 2019): a fixed seeded "
                      f"random class per {hyp.level} type.")


def shuffled_labels(hyp: Hypothesis, data, seed: int = 0, key: str = "text") -> Hypothesis:
    """``hyp``'s labels on the text records of ``data`` (a ``datasets.Dataset``), permuted at
    the record level: a negative control, named ``shuffled:<name>``.

    The records are put in a seeded random order and their label sequences laid end to end
    in that order; record ``i`` then takes the next ``len(labels of i)`` of them. So a
    record-level hypothesis gives each record another record's label, a char- or word-level
    one gives its symbols labels from other records; the labels' frequencies are exactly
    kept, and their link to the text is gone. Records are found by their ``key`` column, whose
    values must be unique (UD's ``sent_id``; by text only where no text repeats: repeated texts
    sharing a label would let a probe learn it), so the result labels only records of
    ``data``.
    """
    from .annotation import annotate
    from .cache import digest
    from .fingerprint import hypothesis_key

    if hyp.level not in ("char", "word", "record"):
        raise ValueError(f"shuffled labels need text records; {hyp.name!r} labels "
                         f"{hyp.level}s")
    labels = annotate(data, [hyp], progress=False)[hyp.name]
    stream = labels.take(np.random.default_rng(seed).permutation(len(data)))
    names = data[key]
    bounds = {name: (int(labels.offsets[i]), int(labels.offsets[i + 1]))
              for i, name in enumerate(names)}
    if len(bounds) < len(names):
        raise ValueError(f"shuffled labels need a column that tells records apart, but "
                         f"{len(names) - len(bounds)} of the {len(names)} records repeat "
                         f"another's {key!r}: pass key= a column of unique record ids")
    version = (f"{hyp.version}.shuffled-s{seed}-{key}-"
               f"{digest({'data': data._fingerprint, **hypothesis_key(hyp)})}")

    def fn(batch: dict[str, list]) -> list:
        missing = [t for t in batch[key] if t not in bounds]
        if missing:
            raise AnnotationError(f"{SHUFFLED}{hyp.name} labels only the {len(data)} records "
                                  f"it was made from, not {str(missing[0])[:60]!r}: make it "
                                  f"with shuffled_labels(hypothesis, data) on the data "
                                  f"inspected")
        cut = [stream[lo:hi] for lo, hi in map(bounds.__getitem__, batch[key])]
        return [c[0].item() for c in cut] if hyp.level == "record" else cut

    return Hypothesis(f"{SHUFFLED}{hyp.name}", fn, hyp.kind, hyp.level, version, hyp.classes,
                      f"Negative control for {hyp.name}: its labels permuted between the "
                      f"records of one data set (seed {seed}).")
