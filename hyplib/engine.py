"""The streaming engine: one pass over the records for all models × layers × hypotheses × inspectors.

Per batch: the records' labels are gathered from the annotation cache once (shared by every
model), each model runs once with hooks on all its layers, each layer's behaviour is aligned to
the symbols of each hypothesis level, and every inspector updates its statistics on the device.
Behaviours are not kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import datasets
import numpy as np
import torch
from tqdm.auto import tqdm

from .align import align, symbol_spans
from .annotate import Labels, annotate, label_matrix
from .errors import BehaviourError, HyplibError
from .extract import record, resolve_layers
from .models import TextModel
from .plugins import Catalog, catalog as default_catalog
from .results import Result
from .types import Hypothesis, unit_name


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class _Level:
    """The hypotheses of one symbol level, and which label columns each inspector reads."""

    name: str
    labels: list[Labels]
    columns: list
    inspector_columns: dict[str, torch.Tensor]


def _levels(hyps: list[Hypothesis], all_labels: dict[str, Labels], inspectors: dict[str, type],
            device) -> list[_Level]:
    levels = []
    for level in sorted({h.level for h in hyps}):
        chosen = [h for h in hyps if h.level == level]
        columns = [c for h in chosen for c in h.columns]
        picks = {}
        for name, cls in inspectors.items():
            idx = [i for i, c in enumerate(columns) if cls.accepts(c.hypothesis)]
            if idx:
                picks[name] = torch.tensor(idx, device=device)
        levels.append(_Level(level, [all_labels[h.name] for h in chosen], columns, picks))
    return levels


def _resolve(items, kind: str, cat: Catalog) -> list:
    out = []
    for item in items:
        out += cat.select(kind, [item]) if isinstance(item, str) else [item]
    return out


def _check_finite(x: torch.Tensor, model: str, layer: str, counts: np.ndarray, ids: np.ndarray):
    if torch.isfinite(x).all():
        return
    bad = ~torch.isfinite(x)
    unit = int(bad.any(0).nonzero()[0])
    row = int(bad[:, unit].nonzero()[0])
    rec = ids[np.searchsorted(np.cumsum(counts), row, side="right")]
    raise BehaviourError(f"unit {unit_name(model, layer, unit)} is {x[row, unit].item()} on record "
                         f"{rec}: the model produced non-finite activations there")


def inspect(
    models: TextModel | Sequence[TextModel],
    data: datasets.Dataset,
    hypotheses: Sequence[Hypothesis | str],
    inspectors: Sequence[str | type] = ("correlation",),
    layers: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    *,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    max_records: int | None = None,
    pool: str = "first",
    progress: bool = True,
    catalog: Catalog | None = None,
) -> Result:
    """Score every unit of the chosen layers against every hypothesis with every inspector.

    ``hypotheses`` and ``inspectors`` take objects or names (globs for hypotheses, e.g.
    ``"grammar.python.*"``); ``layers`` defaults to each model's ``default_layers``. Records
    are visited in a seeded random order, so ``max_records`` reads a random sample.
    """
    start = time.perf_counter()
    models = [models] if isinstance(models, TextModel) else list(models)
    cat = catalog or default_catalog()
    hyps = _resolve(hypotheses, "hypotheses", cat)
    if not hyps:
        raise HyplibError("no hypotheses chosen: name some, e.g. 'grammar.python.*'")
    insp = {c.name: c for c in _resolve(inspectors, "inspectors", cat)}
    for name, cls in insp.items():
        if not any(cls.accepts(h) for h in hyps):
            raise HyplibError(f"inspector {name!r} accepts none of the chosen hypotheses")
    if len(data) == 0:
        raise HyplibError("the data set has no records: check the data path or filter")
    dev = pick_device(device)
    plan = {}
    for m in models:
        chosen = layers.get(m.name, m.default_layers) if isinstance(layers, Mapping) else layers
        chosen = list(chosen or m.default_layers)
        if not chosen:
            raise HyplibError(f"no layers chosen for model {m.name!r}: pass layers=[...]")
        resolve_layers(m.module, chosen, m.name)
        plan[m] = chosen
        m.to(dev)

    levels = _levels(hyps, annotate(data, hyps, progress=progress), insp, dev)
    order = np.random.default_rng(seed).permutation(len(data))
    if max_records is not None:
        order = order[:max_records]
    state: dict[tuple, object] = {}
    n_symbols = dict.fromkeys((lv.name for lv in levels), 0)
    bar = tqdm(total=len(order), desc="inspect", unit="rec", disable=not progress)
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            ids = order[lo:lo + batch_size]
            batch = data[ids]
            spans = {lv.name: symbol_spans(batch, lv.name) for lv in levels}
            ys = {lv.name: label_matrix(lv.labels, ids, dev) for lv in levels}
            for m, chosen in plan.items():
                enc = m.encode(batch["text"])
                with record(m.module, chosen, m.name) as seen:
                    m.forward(enc, dev)
                for lv in levels:
                    al = align(enc.spans, spans[lv.name], pool, ids).to(dev)
                    counts = np.array([len(s) for s in spans[lv.name]])
                    for layer in chosen:
                        x = al.gather(seen[layer]).float()
                        _check_finite(x, m.name, layer, counts, ids)
                        for name, cols in lv.inspector_columns.items():
                            key = (m.name, layer, lv.name, name)
                            if key not in state:
                                state[key] = insp[name](x.shape[1], [lv.columns[i] for i in
                                                                     cols.tolist()], dev)
                            state[key].update(x, ys[lv.name].index_select(1, cols))
            for lv in levels:
                n_symbols[lv.name] += int(ys[lv.name].shape[0])
            bar.update(len(ids))
    bar.close()
    meta = {"records": int(len(order)), "records_total": len(data), "symbols": n_symbols,
            "stopped": "end of data" if len(order) == len(data) else "max_records",
            "seconds": round(time.perf_counter() - start, 3), "device": str(dev), "seed": seed,
            "data_fingerprint": data._fingerprint,
            "hypotheses": {h.name: h.version for h in hyps},
            "rank_by_abs": sorted(n for n, c in insp.items() if getattr(c, "rank_by_abs", False))}
    return Result.from_inspectors(state, meta)
