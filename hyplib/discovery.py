"""Discovery: generate hypotheses from the data, score every unit against them, and keep the
unit–hypothesis pairs that are significant at a false discovery rate."""
from __future__ import annotations

from typing import Mapping, Sequence

import datasets
import numpy as np

from .engine import inspect
from .errors import HyplibError
from .generation import Generator, generate
from .results import Result
from .types import Hypothesis


def discover(models, data: datasets.Dataset, generators: Sequence[str | Generator] = ("*",),
             inspectors: Sequence[str | type] = ("correlation",), layers=None, *,
             fdr: float = 0.05, method: str = "bh", cap: int = 100, min_count: int = 20,
             generator_args: Mapping[str, Mapping] | None = None,
             hypotheses: Sequence[Hypothesis | str] = (), **inspect_args) -> Result:
    """Generate hypotheses (:func:`hyplib.generation.generate`; ``cap`` per generator, each
    labelling at least ``min_count`` symbols), add ``hypotheses``, and :func:`~hyplib.inspect`
    the models against all of them in one pass. The result's table has every score with its
    ``p`` and ``q``; ``result.discoveries(fdr, method)`` are the significant pairs, and
    ``meta`` says how many hypotheses each generator made (``generated``), how many tests
    were made (``tests``) and how many were discoveries at ``fdr`` (``discoveries``).
    Hypotheses of a level the models do not take (word-level ones for an image model; char-level
    ones for a text model whose positions leave characters of the first records uncovered, as
    a word model leaves spaces) are left out and counted in ``meta["skipped"]``."""
    made = generate(data, generators, cap=cap, min_count=min_count, options=generator_args)
    generated = [h for hs in made.values() for h in hs]
    image = [m.symbols == "pixels" for m in _as_list(models)]
    levels = [lv for lv in _as_list(models)[0].levels
              if all(lv in m.levels for m in _as_list(models))]
    if not any(image) and not all(_covers_characters(m, data) for m in _as_list(models)):
        levels = tuple(lv for lv in levels if lv != "char")
    usable = [h for h in generated if h.level in levels]
    if not usable and not hypotheses:
        raise HyplibError(f"the generators {sorted(made)} made no hypothesis the models take "
                          f"(levels {list(levels)}): lower --min-count, or choose others")
    result = inspect(models, data, usable + list(hypotheses), inspectors, layers, **inspect_args)
    found = result.discoveries(fdr, method)
    result.meta.update(generated={name: len(hs) for name, hs in made.items()},
                       skipped=len(generated) - len(usable), fdr=fdr, fdr_method=method,
                       discoveries=len(found), discovered_units=int(found["unit_name"].nunique()))
    return result


def _as_list(models) -> list:
    return list(models) if isinstance(models, (list, tuple)) else [models]


def _covers_characters(model, data: datasets.Dataset, n: int = 8) -> bool:
    """Whether every character of the first ``n`` records lies in some model position."""
    texts = data[:n][getattr(model, "field", "text")]
    spans = model.encode(texts).spans
    for text, rows in zip(texts, spans):
        rows = rows[rows[:, 0] >= 0]
        starts = np.bincount(rows[:, 0], minlength=len(text) + 1)
        ends = np.bincount(rows[:, 1], minlength=len(text) + 1)
        if (np.cumsum(starts - ends)[:len(text)] <= 0).any():
            return False
    return True
