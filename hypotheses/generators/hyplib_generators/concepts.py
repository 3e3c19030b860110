"""One binary hypothesis per concept (class) of a categorical hypothesis, such as a data set's
pixel label map: ``auto.concept.sky``, for the classes labelling at least ``min_count``
symbols."""
from __future__ import annotations

import numpy as np

from hyplib import HyplibError, Hypothesis, annotate, as_label_array, catalog, frequent

from .text import VERSION, safe


def concepts(data, cap: int, min_count: int, hypothesis: Hypothesis | str = "",
             skip: tuple[str, ...] = ("-", "none", "background")) -> list[Hypothesis]:
    """The classes of ``hypothesis`` (an object or an installed name), except ``skip``."""
    if isinstance(hypothesis, str):
        hypothesis = catalog().get("hypotheses", hypothesis)
    if hypothesis.kind != "categorical":
        raise HyplibError(f"the concepts generator splits a categorical hypothesis into its "
                          f"classes; {hypothesis.name!r} is {hypothesis.kind}")
    labels = annotate(data, [hypothesis], progress=False)[hypothesis.name]
    counts = np.bincount(labels.values.astype(np.int64), minlength=len(hypothesis.classes))
    counts = dict(zip(hypothesis.classes, counts.tolist()))
    keep = [c for c in frequent(counts, len(counts), min_count) if c not in skip][:cap]
    return [_concept(hypothesis, c) for c in keep]


def _concept(parent: Hypothesis, concept: str) -> Hypothesis:
    index = parent.classes.index(concept)

    def fn(batch):
        return [as_label_array(v, parent) == index for v in parent(batch)]
    return Hypothesis(f"auto.concept.{safe(concept)}", fn, "binary", parent.level,
                      f"{VERSION}-{parent.name}-v{parent.version}",
                      description=f"The {parent.level} is labelled {concept!r} by {parent.name}.")

