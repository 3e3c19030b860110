"""A result in a notebook: an HTML table (``Result._repr_html_``) and a heat map Figure."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..figures import figure

SHOWN = ["hypothesis", "inspector", "metric", "unit_name", "score", "ci_low", "ci_high", "n"]


def labelled(table: pd.DataFrame) -> pd.Series:
    """``hypothesis`` or ``hypothesis=label`` for a categorical class."""
    return table["hypothesis"] + table["label"].map(lambda s: f"={s}" if s else "")


def html_table(result, k: int = 3) -> str:
    """The best ``k`` units per hypothesis as an HTML table, under a line on how it was run."""
    m = result.meta
    head = (f"{len(result.table)} scores, {result.table['unit_name'].nunique()} units; "
            f"{m['records']} of {m['records_total']} records read ({m.get('stopped', '')}) on "
            f"{m.get('device', '?')}" if "records" in m else f"{len(result.table)} scores")
    top = result.top(k)
    top = top.assign(hypothesis=labelled(top))[[c for c in SHOWN if c in top]]
    return (f"<div class='hyplib-result'><p><b>hyplib Result</b>: {html.escape(head)}; "
            f"best {k} units per hypothesis:</p>"
            + top.to_html(index=False, float_format="{:.3f}".format, border=0) + "</div>")


def score_matrix(result, inspector: str | None = None, metric: str | None = None,
                 units: int = 20) -> pd.DataFrame:
    """Units × hypotheses scores of one inspector and metric (the first ones by default): the
    ``units`` units that are best for some hypothesis, strongest first."""
    t = result.table[result.table["unit"] >= 0]
    inspector = inspector or t["inspector"].iloc[0]
    t = t[t["inspector"] == inspector]
    metric = metric or t["metric"].iloc[0]
    t = t[t["metric"] == metric].assign(column=lambda d: labelled(d))
    grid = t.pivot_table(index="unit_name", columns="column", values="score", aggfunc="first")
    strength = grid.abs() if inspector in result.meta.get("rank_by_abs", []) else grid
    best = strength.max(axis=1).sort_values(ascending=False).index[:units]
    grid = grid.loc[best]
    grid.attrs.update(inspector=inspector, metric=metric)
    return grid


def plot(result, inspector: str | None = None, metric: str | None = None, units: int = 20
         ) -> Figure:
    """A heat map of :func:`score_matrix` as a matplotlib Figure (shown inline by Jupyter)."""
    grid = score_matrix(result, inspector, metric, units)
    values = grid.to_numpy(dtype=float)
    signed = bool((values < 0).any())
    top = float(np.nanmax(np.abs(values))) if values.size else 1.0
    fig, ax = figure(figsize=(2.5 + 0.55 * grid.shape[1], 1.2 + 0.28 * grid.shape[0]))
    im = ax.imshow(values, cmap="coolwarm" if signed else "viridis", aspect="auto",
                   vmin=-top if signed else 0, vmax=top or 1.0)
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04, label=grid.attrs["metric"])
    ax.set_title(f"{grid.attrs['inspector']}: the {grid.shape[0]} strongest units", fontsize=10)
    fig.tight_layout()
    return fig
