"""The inspectors a planned pass runs: each standard inspector wrapped for its statements.

A wrapper (:func:`variant`) takes only its statements' hypotheses (so statements merged into
one pass do not score each other's), applies a *projection* (symbols outside a window, or
outside the span where a binary hypothesis holds, or outside an image box, never reach the
statistic) and, for results
a DIFF reads, keeps bootstrap replicates (:mod:`~hyplib.query.bootstrap`). Window masks and
record keys travel to it as extra label columns, built by the hypotheses below.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import significance
from ..align import pixel_grids
from ..errors import HyplibError
from ..types import Hypothesis
from .bootstrap import ReplicatedCorrelation


def window(lo: int, hi: int, level: str) -> Hypothesis:
    """Binary: the symbol's index in its record (character or word) is in ``[lo, hi)``."""
    if level not in ("char", "word"):
        raise HyplibError(f"WINDOW {lo}..{hi} applies to char and word hypotheses, not "
                          f"{level}-level ones: use WINDOW BOX on pixels, WITHIN <hypothesis>, "
                          f"or leave it out")

    def fn(batch):
        counts = ([len(t) for t in batch["text"]] if level == "char" else
                  [len(s) for s in batch["word_spans"]])
        return [(np.arange(n) >= lo) & (np.arange(n) < hi) for n in counts]

    return Hypothesis(f"query.window[{lo}:{hi}].{level}", fn, "binary", level, "1",
                      description=f"the {level} index is in [{lo}, {hi})")


def box(top: int, left: int, bottom: int, right: int, level: str) -> Hypothesis:
    """Binary: the pixel of the record's label grid is in rows ``[top, bottom)`` and columns
    ``[left, right)`` (an image box)."""
    if level != "pixel":
        raise HyplibError(f"WINDOW BOX applies to pixel hypotheses, not {level}-level ones: use "
                          f"WINDOW first..last+1 on characters or words")

    def fn(batch):
        masks = []
        for h, w in pixel_grids(batch):
            inside = np.zeros((h, w), dtype=bool)
            inside[top:bottom, left:right] = True
            masks.append(inside)
        return masks

    return Hypothesis(f"query.box[{top}:{bottom},{left}:{right}]", fn, "binary", "pixel", "1",
                      description=f"the pixel is in rows [{top}, {bottom}), columns "
                                  f"[{left}, {right})")


def variant(base: type, name: str, hypotheses: set[str], args: dict, mask: set[str],
            keys: set[str], replicates: int, seed: int) -> type:
    """An inspector class called ``name``: ``base(**args)`` over ``hypotheses`` only, fed the
    symbols where a ``mask`` column (one per level) is set, with bootstrap replicates of r
    when a ``keys`` column (record keys, one per level) is given (for ``correlation`` only)."""
    extra = mask | keys

    class Variant:
        rank_by_abs = getattr(base, "rank_by_abs", False)
        base_name = base.name

        @classmethod
        def accepts(cls, h: Hypothesis) -> bool:
            return h.name in extra or (h.name in hypotheses and base.accepts(h))

        def __init__(self, n_units: int, columns, device):
            names = [c.hypothesis.name for c in columns]
            self.mask = next((i for i, n in enumerate(names) if n in mask), None)
            self.key = next((i for i, n in enumerate(names) if n in keys), None)
            keep = [i for i, n in enumerate(names) if n not in extra]
            self.columns = [columns[i] for i in keep]
            self.keep = torch.tensor(keep, dtype=torch.long, device=device)
            self.inner = base(n_units, self.columns, device, **args) if keep else None
            boot = self.key is not None and keep and base.name == "correlation"
            self.boot = (ReplicatedCorrelation(n_units, len(keep), device, replicates, seed)
                         if boot else None)

        def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
            if self.inner is None:
                return
            if self.mask is not None:
                inside = y[:, self.mask] > 0
                x, y = x[inside], y[inside]
                if x.shape[0] == 0:
                    return
            self.inner.update(x, y.index_select(1, self.keep))
            if self.boot is not None:
                self.boot.add(x, y.index_select(1, self.keep), y[:, self.key].long())

        def scores(self):
            return [] if self.inner is None else self.inner.scores()

        def p_values(self, s):
            """The inner inspector's p-values (:func:`hyplib.significance.p_values`)."""
            return None if self.inner is None else significance.p_values(self.inner, s)

        @property
        def confidence(self) -> float:  # early stopping spends the inner one's error rate
            return getattr(self.inner, "confidence", 0.95)

        @confidence.setter
        def confidence(self, value: float) -> None:
            if self.inner is not None:
                self.inner.confidence = value

        def replicates(self, metric: str) -> np.ndarray | None:
            """(units × columns × B) replicates of the ``r`` metric, else None."""
            if self.boot is None or metric != "r":
                return None
            return self.boot.values().transpose(1, 2, 0)

        def state_dict(self) -> dict:
            return {"inner": self.inner.state_dict() if self.inner else None,
                    "boot": self.boot.state_dict() if self.boot else None}

        def load_state_dict(self, state: dict) -> None:
            if self.inner is not None:
                self.inner.load_state_dict(state["inner"])
            if self.boot is not None:
                self.boot.load_state_dict(state["boot"])

    if hasattr(base, "calibrate"):  # bin edges from the pass's calibration sample
        Variant.calibrate = lambda self, x: self.inner is not None and self.inner.calibrate(x)
        Variant.settled = property(lambda self: self.inner is None
                                   or bool(getattr(self.inner, "settled", True)))
    Variant.name = name
    Variant.__name__ = Variant.__qualname__ = f"Variant[{name}]"
    return Variant
