"""The report of a result (:func:`write`) and a layer's mapper page (:func:`topo`)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import HyplibError
from . import pages
from .behaviour import sample
from .logits import direct_effect, feeds_head, output_head
from .mapper import MapperGraph


def write(result, out: str | Path, models=None, data=None, hypotheses: Sequence = (),
          records: int = 200, per_hypothesis: int = 3, max_units: int = 60,
          overview_units: int = 150, device: str = "auto", progress: bool = True) -> Path:
    """Write the report of ``result`` to folder ``out``; return its ``index.html``.

    The overview and hypothesis pages need the result alone. Unit pages (the best
    ``per_hypothesis`` units of every hypothesis, at most ``max_units``) show what a unit does
    on records when ``models`` (a model, a list, or a name -> model dict) and ``data`` are
    given: the report re-runs each model on ``records`` records of ``data`` drawn in the
    engine's seeded order (a result keeps scores, not behaviours). ``hypotheses`` adds
    Hypothesis objects the catalog does not know.
    """
    out = Path(out)
    table = result.table
    if table.empty:
        raise HyplibError("this result has no scores to report")
    rank = result.meta.get("rank_by_abs", [])
    flags = pages.indicators(table)
    units = _chosen(result, per_hypothesis, max_units, flags)
    names = set(units["unit_name"])
    env = pages.environment()
    models = _by_name(models)
    resolved = _hypotheses(result, hypotheses)
    topo = sorted(p.relative_to(out).as_posix() for p in (out / "topo").glob("*.html"))
    sources = result.meta.get("sources", {})

    samples, heads = {}, {}
    if models and data is not None:
        for name, model in models.items():
            mine = units[units["model"] == name]
            if len(mine):
                layers = {layer: sorted(part["unit"].astype(int).unique())
                          for layer, part in mine.groupby("layer")}
                samples[name] = sample(model, data, layers, records,
                                       int(result.meta.get("seed", 0)), device=device)
    for row in tqdm(units.itertuples(), total=len(units), desc="report units", unit="unit",
                    disable=not progress):
        scores = pages.unit_scores(table[table["unit_name"] == row.unit_name], rank, flags)
        row = _best_row(scores, row)
        context = dict(unit=row.unit_name, scores=scores.to_dict("records"), best=row._asdict(),
                       sampled=row.model in samples, records=records, logits=None)
        hyp = resolved.get(row.hypothesis)
        if row.model in samples and hyp is not None:
            context.update(_unit_views(samples[row.model], row, hyp, out))
        model = models.get(row.model)
        if model is not None and data is not None and "text" in data.column_names:
            key = (row.model, row.layer)
            if key not in heads:
                found = output_head(model)
                heads[key] = found if found and feeds_head(model, row.layer, device=device) else None
            if heads[key]:
                context["logits"] = direct_effect(*heads[key], int(row.unit)).to_dict("records")
        pages.write_page(env, "unit.html", out / "unit" / f"{pages.slug(row.unit_name)}.html",
                         **context)
    hyps = sorted(h for h in table["hypothesis"].unique() if not h.startswith(pages.CONTROL))
    for name in hyps:
        pages.write_page(env, "hypothesis.html", out / "hyp" / f"{pages.slug(name)}.html",
                         name=name, hyp=resolved.get(name), pages=names,
                         sections=pages.hypothesis_sections(result, name, 10))
    return pages.write_page(env, "index.html", out / "index.html",
                            grids=pages.overview(result, names, overview_units), hypotheses=hyps,
                            provenance=pages.provenance(result, sources), topo=topo,
                            sampled=bool(samples), records=records)


def _chosen(result, k: int, limit: int, flags: list) -> pd.DataFrame:
    """The units that get a page: each model's best ``k`` per hypothesis column, once, with the
    row that chose it (controls and 0/1 metrics such as ``detector`` excluded), at most
    ``limit``."""
    per_model = [type(result)(part, result.meta).top(k)
                 for _, part in result.table.groupby("model", sort=False)]
    top = pd.concat(per_model, ignore_index=True)
    top = top[(top["unit"] >= 0) & ~top["hypothesis"].str.startswith(pages.CONTROL)
              & ~top.set_index(["inspector", "metric"]).index.isin(flags)]
    top = top.drop_duplicates("unit_name")
    order = top.groupby("model", sort=False).cumcount()  # the models take turns up to the limit
    return top.iloc[np.argsort(order.to_numpy(), kind="stable")].head(limit).reset_index(drop=True)


def _best_row(scores: pd.DataFrame, chosen):
    """The unit's strongest hypothesis column on the inspector and metric that chose it."""
    mine = scores[(scores["inspector"] == chosen.inspector) & (scores["metric"] == chosen.metric)
                  & ~scores["control"]]
    return next(mine.head(1).itertuples()) if len(mine) else chosen


def _by_name(models) -> dict:
    if models is None:
        return {}
    if isinstance(models, dict):
        return models
    if not isinstance(models, (list, tuple)):
        models = [models]
    return {m.name: m for m in models}


def _hypotheses(result, extra: Sequence) -> dict:
    """The result's hypotheses as objects: ``extra`` first, then the catalog's."""
    from ..plugins import catalog

    found = {h.name: h for h in extra}
    cat = catalog()
    known = {name for name, _, _ in cat.entries("hypotheses")}
    for name in result.table["hypothesis"].unique():
        if name not in found and name in known:
            found[name] = cat.get("hypotheses", name)
    return found


def _unit_views(s, row, hyp, out: Path) -> dict:
    """A sampled unit's distribution by label and its top records (text) or images."""
    layer, unit = row.layer, int(row.unit)
    x, labels, rec = s.symbols(layer, unit, hyp)
    dist, axis = pages.distribution(x, labels, hyp)
    sign = -1.0 if row.score < 0 else 1.0
    acts = s.unit(layer, unit)
    peak = np.array([float((sign * a).max()) if a.size else -np.inf for a in acts])
    best = np.argsort(-peak, kind="stable")[:5 if not s.image else 4]
    flat = np.concatenate([a.reshape(-1) for a in acts])
    centre = float(np.median(flat))  # colours diverge from the unit's median on the sample
    top = float(np.quantile(np.abs(flat - centre), 0.99)) or 1.0  # the rarest 1% saturate
    label = row.label
    if hyp.kind == "categorical" and label not in hyp.classes:  # a probe scores all classes
        label = max(dist, key=lambda d: sign * d["q"][2])["name"]
    view = dict(distribution=dist, axis=axis, hyp=hyp, label=label, sign=sign,
                low=centre - top, centre=centre, high=centre + top)
    if s.image:
        threshold = float(np.quantile(flat, 0.995))
        images = [s.batch[s.field][i] for i in best]
        path = out / "unit" / "img" / f"{pages.slug(row.unit_name)}.png"
        pages.overlay(images, [acts[i] >= threshold for i in best],
                      [f"record {s.rows[i]}: peak {peak[i]:.2f}" for i in best], path,
                      f"{row.unit_name}: activation at or above its 99.5% quantile ({threshold:.2f})")
        view["overlay"] = path.relative_to(out / "unit").as_posix()
        return view
    spans = [None] * len(acts) if hyp.level != "word" else list(
        map(np.asarray, s.batch["word_spans"]))
    lab = np.split(labels, np.cumsum(np.bincount(rec, minlength=len(acts)))[:-1])
    view["top_records"] = [dict(
        row=int(s.rows[i]), peak=float(sign * peak[i]),
        chars=pages.text_snippet(s.batch["text"][i], acts[i] - centre,
                                 pages.marks(hyp, label, lab[i],
                                             None if spans[i] is None
                                             else spans[i].reshape(-1, 2), len(acts[i])),
                                 top, int(np.argmax(sign * acts[i])), centre))
        for i in best]
    return view


def topo(model, data, layer: str, hypothesis=None, out: str | Path | None = None, *,
         records: int = 200, points: int = 5000, lens: str = "l2norm", intervals: int = 10,
         overlap: float = 0.3, eps: float | None = None, min_samples: int = 3, seed: int = 0,
         device: str = "auto") -> tuple[MapperGraph, Path | None]:
    """TopoAct: the mapper graph of ``layer``'s activation vectors on a seeded sample of
    ``data`` (see :mod:`hyplib.report.mapview` for the sampling), coloured by ``hypothesis`` (a
    Hypothesis or a name); with ``out``, also its HTML page there."""
    from . import mapper, mapview

    if isinstance(hypothesis, str):
        from ..plugins import catalog
        hypothesis = catalog().get("hypotheses", hypothesis)
    pts = mapview.layer_points(model, data, layer, hypothesis, records, points, seed,
                             device=device)
    graph = mapper.build(pts.vectors, pts.labels, hypothesis.classes if hypothesis else (),
                         lens, intervals, overlap, eps, min_samples, seed)
    graph.params.update(records=records, model=model.name, layer=layer)
    if out is None:
        return graph, None
    title = f"{model.name}:{layer}" + (f" coloured by {hypothesis.name}" if hypothesis else "")
    return graph, mapview.page(graph, pts, data, title, out,
                             hypothesis.name if hypothesis else None, seed)
