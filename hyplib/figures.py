"""Figures people would rather look at: score heat maps and text coloured by a unit.

Built with matplotlib's object-oriented API (a :class:`~matplotlib.figure.Figure` on an Agg
canvas), never through pyplot: importing hyplib leaves the user's backend (a notebook's inline
one) as it was, and no figure lingers in pyplot's registry.
"""
from __future__ import annotations

import html
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .cache import atomic_path


def figure(nrows: int = 1, ncols: int = 1, figsize=None, **kwargs) -> tuple[Figure, object]:
    """A new figure and its axes, as ``pyplot.subplots`` gives them but without pyplot: a
    Figure on its own Agg canvas."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def heatmap(frame: pd.DataFrame, path: str | Path, title: str = "", vmax: float = 1.0,
            cmap: str = "viridis") -> Path:
    """A PNG heat map of a (rows × columns) table of scores, each cell labelled."""
    fig, ax = figure(figsize=(1.2 + 1.1 * frame.shape[1], 1.0 + 0.45 * frame.shape[0]))
    im = ax.imshow(frame.to_numpy(dtype=float), cmap=cmap, vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(frame.shape[1]), frame.columns, rotation=30, ha="right")
    ax.set_yticks(range(frame.shape[0]), frame.index)
    for (i, j), v in np.ndenumerate(frame.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center",
                color="white" if v < 0.6 * vmax else "black", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)


def _colours(values: np.ndarray) -> np.ndarray:
    """RGBA per value on a diverging map centred on zero."""
    scale = float(np.abs(values).max()) or 1.0
    return matplotlib.colormaps["coolwarm"]((values / scale + 1) / 2)


def coloured_text(text: str, values: np.ndarray, path: str | Path, title: str = "",
                  width: int = 100) -> tuple[Path, Path]:
    """``text`` with each character's background coloured by ``values``: an HTML and a PNG."""
    rgba = _colours(np.asarray(values, dtype=float))
    spans = "".join(
        f'<span style="background:rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})" '
        f'title="{v:.3f}">{html.escape(c)}</span>'
        for c, (r, g, b, _), v in zip(text, rgba, values))
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<h3>{html.escape(title)}</h3><pre style='font-size:13px;line-height:1.3'>{spans}</pre>")
    html_path = Path(path).with_suffix(".html")
    with atomic_path(html_path) as tmp:
        tmp.write_text(page, encoding="utf-8")

    lines = _wrap(text, width)
    fig, ax = figure(figsize=(width * 0.085 + 0.4, 0.19 * len(lines) + 0.6))
    ax.set_xlim(0, width)
    ax.set_ylim(len(lines), -1)
    ax.axis("off")
    for row, (start, line) in enumerate(lines):
        for col, c in enumerate(line):
            ax.add_patch(Rectangle((col, row - 0.5), 1, 1, color=rgba[start + col], lw=0))
            if c.strip():
                ax.text(col + 0.5, row, c, ha="center", va="center", family="monospace",
                        fontsize=7)
    ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return html_path, save_png(fig, Path(path).with_suffix(".png"))


def _wrap(text: str, width: int) -> list[tuple[int, str]]:
    """(offset, line) pairs: lines at newlines (kept as a coloured cell), hard-wrapped."""
    out, start = [], 0
    for line in text.split("\n"):
        for i in range(0, max(len(line) + 1, 1), width):
            out.append((start + i, (line + "\n")[i:i + width] if start + len(line) < len(text)
                        else line[i:i + width]))
        start += len(line) + 1
    return out


def save_png(fig, path: str | Path) -> Path:
    """Write a matplotlib figure to ``path`` as PNG (temp file + rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


def grouped_bars(frame: pd.DataFrame, path: str | Path, title: str = "", ylabel: str = "") -> Path:
    """A PNG bar chart of a (groups × series) table of counts: one cluster of bars per row."""
    groups, series = frame.index.astype(str), frame.columns.astype(str)
    width = 0.8 / max(1, len(series))
    fig, ax = figure(figsize=(max(4.5, 1.5 + 0.3 * len(groups) * len(series)), 3.6))
    for j, name in enumerate(series):
        bars = ax.bar(np.arange(len(groups)) + (j - (len(series) - 1) / 2) * width,
                      frame.iloc[:, j].to_numpy(dtype=float), width, label=name)
        ax.bar_label(bars, fmt="%d", fontsize=7)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_png(fig, path)


def mask_overlays(images: list[np.ndarray], masks: list[np.ndarray], path: str | Path,
                  titles: list[str] | None = None, title: str = "", columns: int = 4) -> Path:
    """A PNG grid of images (h, w, 3 uint8), each dimmed outside its boolean mask (any size:
    resized to the image) with the mask's outline drawn."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = figure(rows, columns, figsize=(2.1 * columns, 2.2 * rows + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (image, mask) in enumerate(zip(images, masks)):
        h, w = image.shape[:2]
        yy = np.minimum(np.arange(h) * mask.shape[0] // h, mask.shape[0] - 1)
        xx = np.minimum(np.arange(w) * mask.shape[1] // w, mask.shape[1] - 1)
        on = mask[yy[:, None], xx[None, :]]
        ax = axes.flat[i]
        ax.imshow(np.where(on[..., None], image, (image * 0.3).astype(np.uint8)))
        if on.any() and not on.all():
            ax.contour(on, levels=[0.5], colors="yellow", linewidths=0.8)
        if titles:
            ax.set_title(titles[i], fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_png(fig, path)
