"""The report site: an overview heat map, a page per hypothesis and a page per unit.

Plain HTML and inline SVG from jinja2 templates, with a few lines of inline JavaScript to sort
and filter tables: every page works from ``file://`` with no network and no library to load.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import matplotlib
import numpy as np
import pandas as pd

from ..cache import atomic_path
from ..figures import mask_overlays
from ..results import LOWER_IS_BETTER
from ..types import Hypothesis
from .notebook import labelled

CONTROL = "control:"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("hyplib.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["slug"] = slug
    env.filters["pyrepr"] = repr
    env.filters["num"] = lambda v, d=3: "" if v is None or pd.isna(v) else f"{v:.{d}f}"
    return env


def slug(name: str) -> str:
    """A file name for a unit or hypothesis name: ``charlm:lstm.1[12]`` -> ``charlm_lstm.1_12``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")


def colours(values: np.ndarray, signed: bool, top: float, cmap: str = "viridis") -> list[str]:
    """Hex colours: coolwarm on [-top, top] for signed values, else ``cmap`` on [0, top]."""
    top = top or 1.0
    v = np.nan_to_num(np.asarray(values, dtype=float))
    rgba = (matplotlib.colormaps["coolwarm"]((v / top + 1) / 2) if signed
            else matplotlib.colormaps[cmap](np.clip(v / top, 0, 1)))
    return [matplotlib.colors.to_hex(c) for c in rgba]


def ink(hex_colours: list[str]) -> list[str]:
    """Black or white text, whichever reads on each background."""
    rgb = np.array([matplotlib.colors.to_rgb(c) for c in hex_colours]).reshape(-1, 3)
    light = rgb @ np.array([0.299, 0.587, 0.114]) > 0.55
    return np.where(light, "#000", "#fff").tolist()


def strength(table: pd.DataFrame, rank_by_abs: list[str]) -> pd.Series:
    """How strongly each row speaks for its unit: |score| for correlations, minus the score for
    ranks (the best is the smallest), else the score."""
    s = table["score"].where(~table["inspector"].isin(rank_by_abs), table["score"].abs())
    return s.where(~table["metric"].isin(LOWER_IS_BETTER), -table["score"])


def indicators(table: pd.DataFrame) -> list[tuple[str, str]]:
    """The (inspector, metric) pairs whose scores are all 0 or 1 (``iou``'s ``detector``,
    ``probe``'s ``selected``): flags, not strengths."""
    flag = table["score"].isin([0.0, 1.0]) | table["score"].isna()
    every = flag.groupby([table["inspector"], table["metric"]]).all()
    return list(every[every].index)


def unit_scores(scores: pd.DataFrame, rank_by_abs: list[str], flags: list[tuple[str, str]]
                ) -> pd.DataFrame:
    """One unit's rows: its hypotheses before control tasks, strengths before 0/1 flags, by
    inspector and metric, the strongest first (the smallest first for ranks)."""
    flag = scores.set_index(["inspector", "metric"]).index.isin(flags)
    return (scores.assign(control=scores["hypothesis"].str.startswith(CONTROL), flag=flag,
                          key=strength(scores, rank_by_abs).to_numpy())
            .sort_values(["control", "flag", "inspector", "metric", "key"],
                         ascending=[True, True, True, True, False], kind="stable"))


@dataclass
class Grid:
    """One (inspector, metric) heat map: units × hypothesis columns with intervals."""

    inspector: str
    metric: str
    columns: list[str]
    rows: list[dict] = field(default_factory=list)
    shown: int = 0
    total: int = 0


def overview(result, pages: set[str], max_units: int) -> list[Grid]:
    """The heat maps of the overview, the ``max_units`` strongest units of each; strengths
    before 0/1 flags."""
    t = result.table[(result.table["unit"] >= 0)]
    rank = result.meta.get("rank_by_abs", [])
    flags = indicators(t)
    grids = []
    groups = sorted(t.groupby(["inspector", "metric"], sort=True), key=lambda g: g[0] in flags)
    for (insp, metric), part in groups:
        part = part.assign(column=labelled(part), key=strength(part, rank).to_numpy())
        wide = part.pivot_table(index="unit_name", columns="column",
                                values=["score", "ci_low", "ci_high", "n", "key"],
                                aggfunc="first")
        order = wide["key"].max(axis=1).sort_values(ascending=False).index
        columns = sorted(wide["score"].columns, key=lambda c: (c.startswith(CONTROL), c))
        v = {name: wide[name].loc[order[:max_units], columns].to_numpy()
             for name in ("score", "ci_low", "ci_high", "n")}
        signed = insp in rank or bool((part["score"] < 0).any())
        top = float(np.nanmax(np.abs(part["score"]))) if len(part) else 1.0
        grid = Grid(insp, metric, columns, shown=min(max_units, len(order)), total=len(order))
        fills = np.array(colours(v["score"].ravel(), signed, top)).reshape(v["score"].shape)
        texts = np.array(ink(list(fills.ravel()))).reshape(fills.shape)
        for i, unit in enumerate(order[:max_units]):
            cells = [dict(score=v["score"][i, j], low=v["ci_low"][i, j], high=v["ci_high"][i, j],
                          n=v["n"][i, j], fill=fills[i, j], ink=texts[i, j])
                     for j in range(len(columns))]
            grid.rows.append(dict(unit=unit, page=unit in pages, cells=cells))
        grids.append(grid)
    return grids


def hypothesis_sections(result, name: str, k: int) -> list[dict]:
    """Per (label, inspector, metric) of ``name`` and of its control task: the best ``k``."""
    top = result.top(k)
    out = []
    for hyp in (name, CONTROL + name):
        part = top[top["hypothesis"] == hyp]
        for (label, insp, metric), rows in part.groupby(["label", "inspector", "metric"],
                                                        sort=True):
            out.append(dict(hypothesis=hyp, label=label, inspector=insp, metric=metric,
                            control=hyp.startswith(CONTROL), rows=rows.to_dict("records")))
    return out


def distribution(x: np.ndarray, labels: np.ndarray, hyp: Hypothesis) -> tuple[list[dict], dict]:
    """The unit's activation quartiles per label value: class names for binary and categorical
    hypotheses, each value of a continuous one with at most 12 values, else its label quartile
    bins; and the axis (range, x of zero)."""
    values = np.unique(labels)
    if hyp.kind == "continuous" and len(values) <= 12:  # a few levels (depth): one row each
        group = np.searchsorted(values, labels)
        names = [f"{v:g}" for v in values]
    elif hyp.kind == "continuous":
        edges = np.unique(np.quantile(labels, [0, 0.25, 0.5, 0.75, 1]))
        group = np.clip(np.searchsorted(edges, labels, side="right") - 1, 0, len(edges) - 2)
        names = [f"{a:.3g} to {b:.3g}" for a, b in zip(edges, edges[1:])]
    else:
        group = labels.astype(int)
        names = list(hyp.classes) if hyp.kind == "categorical" else ["false", "true"]
    frame = pd.DataFrame({"g": group, "x": x})
    q = frame.groupby("g")["x"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    n = frame.groupby("g").size()
    lo, hi = float(q.to_numpy().min()), float(q.to_numpy().max())
    span = (hi - lo) or 1.0
    scale = lambda v: 10 + 380 * (v - lo) / span  # noqa: E731  (x in the 400-px-wide plot)
    rows = [dict(name=names[g] if g < len(names) else str(g), n=int(n[g]),
                 q=[float(v) for v in row], px=[scale(v) for v in row])
            for g, row in zip(q.index, q.to_numpy())]
    return rows, dict(lo=lo, hi=hi, zero=scale(0.0) if lo < 0 < hi else None)


def marks(hyp: Hypothesis, label: str, labels: np.ndarray, spans: np.ndarray | None,
          n_chars: int) -> np.ndarray:
    """Per character: whether the hypothesis column ``label`` holds on it (categorical: the
    class ``label``; binary: true; continuous: never marked)."""
    if hyp.kind == "continuous":
        return np.zeros(n_chars, bool)
    want = hyp.classes.index(label) if hyp.kind == "categorical" else 1
    on = labels == want
    if hyp.level == "char":
        return on
    if hyp.level == "record":
        return np.full(n_chars, bool(on[0]))
    out = np.zeros(n_chars, bool)
    starts, ends = spans[on, 0], spans[on, 1]
    delta = np.zeros(n_chars + 1, int)
    np.add.at(delta, starts, 1)
    np.add.at(delta, ends, -1)
    out[:] = np.cumsum(delta)[:n_chars] > 0
    return out


def text_snippet(text: str, deviation: np.ndarray, marked: np.ndarray, top: float, peak: int,
                 centre: float = 0.0, width: int = 160) -> list[dict]:
    """Characters around ``peak``, each coloured by its activation's ``deviation`` from
    ``centre`` (on [-top, top]), with its label mark and its activation as a tooltip."""
    lo, hi = max(0, peak - width), min(len(text), peak + width)
    fills = colours(deviation[lo:hi], True, top)
    return [dict(c=c, fill=f, mark=bool(m), v=float(v) + centre, peak=lo + i == peak)
            for i, (c, f, m, v) in enumerate(zip(text[lo:hi], fills, marked[lo:hi],
                                                  deviation[lo:hi]))]


def provenance(result, sources: dict) -> list[tuple[str, str]]:
    """The run's provenance as (field, value) rows: the result's own record of versions,
    models' weights and settings (``meta["provenance"]``), how much it read, and its sources."""
    m = result.meta
    rows = [(k, _text(v)) for k, v in m.get("provenance", {"hyplib": "not recorded"}).items()]
    rows += [(k, _text(m[k])) for k in ("records", "records_total", "stopped", "symbols",
                                         "data_fingerprint", "seconds", "hypotheses") if k in m]
    rows += [(f"source: {k}", _text(v)) for k, v in sources.items()]
    return rows


def _text(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def write_page(env: jinja2.Environment, template: str, path: Path, **context) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(env.get_template(template).render(**context), encoding="utf-8")
    return path


def overlay(images: list, masks: list[np.ndarray], titles: list[str], path: Path, title: str
            ) -> Path:
    """NetDissect-style overlays of a unit's top images as one PNG."""
    arrays = [np.asarray(im.convert("RGB") if hasattr(im, "convert") else im, dtype=np.uint8)
              for im in images]
    return mask_overlays(arrays, masks, path, titles, title, columns=len(arrays))

