"""Discovery: generate hypotheses from the data, score every unit against them, and keep the
unit–hypothesis pairs that are significant at a false discovery rate."""
from __future__ import annotations

import inspect as pyinspect
import math
import warnings
from typing import Mapping, Sequence

import datasets
import numpy as np

from .engine import _resolve, inspect
from .errors import HyplibError, HyplibWarning
from .generation import Generator, generate
from .plugins import catalog as default_catalog
from .results import Result
from .types import Hypothesis


MIN_BATCHES = 20  # fewer batches than this: a robust p-value (t on batches - 1 df) is weak


def discover(models, data: datasets.Dataset, generators: Sequence[str | Generator] = ("*",),
             inspectors: Sequence[str | type] = ("correlation",), layers=None, *,
             fdr: float = 0.05, method: str = "bh", cap: int = 100, min_count: int = 20,
             min_effect: float = 0.0, generator_args: Mapping[str, Mapping] | None = None,
             hypotheses: Sequence[Hypothesis | str] = (), **inspect_args) -> Result:
    """Generate hypotheses (:func:`hyplib.generation.generate`; ``cap`` per generator, each
    labelling at least ``min_count`` symbols), add ``hypotheses``, and :func:`~hyplib.inspect`
    the models against all of them in one pass. The result's table has every score with its
    ``p`` and ``q``; ``result.discoveries(fdr, method)`` are the significant pairs, and
    ``meta`` says how many hypotheses each generator made (``generated``), how many tests
    were made (``tests``) and how many were discoveries at ``fdr`` (``discoveries``).
    ``min_effect`` δ > 0 tests |r| <= δ instead of r = 0 (the inspectors that take a
    ``min_effect``, the correlations), so that a discovery is an association stronger than δ.
    Hypotheses of a level the models do not take (word-level ones for an image model; char-level
    ones for a text model whose positions leave characters of the first records uncovered, as
    a word model leaves spaces) are left out and counted in ``meta["skipped"]``."""
    if min_effect:
        inspect_args["inspector_args"] = _with_min_effect(
            inspectors, inspect_args.get("inspector_args") or {}, min_effect)
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
    size = inspect_args.get("batch_size", pyinspect.signature(inspect).parameters["batch_size"]
                            .default)
    batches = math.ceil(result.meta["records"] / size)
    if batches < MIN_BATCHES:
        warnings.warn(f"the pass read {batches} batch(es) of records: p-values robust to "
                      f"dependence within records need at least 2 (then t on batches - 1 df), "
                      f"and have little power under {MIN_BATCHES}: lower the batch size",
                      HyplibWarning, stacklevel=2)
    found = result.discoveries(fdr, method)
    result.meta.update(generated={name: len(hs) for name, hs in made.items()},
                       skipped=len(generated) - len(usable), fdr=fdr, fdr_method=method,
                       min_effect=min_effect,
                       discoveries=len(found), discovered_units=int(found["unit_name"].nunique()))
    return result


def _with_min_effect(inspectors, inspector_args: Mapping, min_effect: float) -> dict:
    """``inspector_args`` with ``min_effect`` for every chosen inspector that takes one."""
    chosen = _resolve(inspectors, "inspectors", default_catalog())
    takes = [c.name for c in chosen
             if "min_effect" in pyinspect.signature(c.__init__).parameters]
    if not takes:
        raise HyplibError(f"min_effect needs an inspector that takes it (correlation, "
                          f"point_biserial, selectivity), not {[c.name for c in chosen]}")
    return {**inspector_args, **{name: {**inspector_args.get(name, {}), "min_effect": min_effect}
                                 for name in takes}}


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
