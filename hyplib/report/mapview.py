"""A layer's activation vectors for a mapper graph, and the graph's HTML page.

Vectors are a stated sample: ``records`` records in the engine's seeded order, at most
``ceil(2 * points / records)`` symbols drawn uniformly from each record, then ``points`` drawn
uniformly from those. A text symbol is a character (or a word, a record: the hypothesis'
level) with its first model position's vector; an image symbol is a feature-map cell, labelled
by the label-grid pixel at the cell's centre.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..align import align, feature_map, pixel_grids, symbol_spans
from ..annotation import _label_batch
from ..device import pick_device
from ..engine import _order
from ..extract import record
from ..types import Hypothesis
from . import mapper as mapper_
from . import pages

SHOWN = 8       # member records listed per node
WINDOW = 40     # characters either side of a text member


@dataclass
class Points:
    """Sampled activation vectors with their labels, records and places in them."""

    vectors: np.ndarray     # n × units
    labels: np.ndarray | None
    rows: np.ndarray        # the data set row of each vector
    place: np.ndarray       # text: (start, end) of the symbol; image: (y, x, h, w) of the cell
    norms: dict             # text: data row -> (symbol spans, L2 norms) to colour snippets


@torch.inference_mode()
def layer_points(model, data, layer: str, hypothesis: Hypothesis | None = None,
                 records: int = 200, points: int = 5000, seed: int = 0, batch_size: int = 16,
                 device: str = "auto") -> Points:
    """A seeded sample of ``layer``'s activation vectors on ``data`` (see the module doc)."""
    dev = pick_device(device)
    model.to(dev)
    rows = np.sort(_order(len(data), seed, records, None))
    cap = math.ceil(2 * points / max(1, len(rows)))
    rng = np.random.default_rng(seed)
    image = "text" not in data.column_names
    level = hypothesis.level if hypothesis is not None else ("pixel" if image else "char")
    out = {"v": [], "y": [], "r": [], "p": []}
    norms = {}
    for lo in range(0, len(rows), batch_size):
        ids = rows[lo:lo + batch_size]
        batch = data.select(ids)[:]
        enc = model.encode(batch[getattr(model, "field", "text")])
        with record(model.module, [layer], model.name) as seen:
            model.forward(enc, dev)
        labels = (_label_batch(batch, list(ids), hypothesis)["labels"]
                  if hypothesis is not None else None)
        if image:
            fmap = feature_map(seen[layer], layer).float()
            h, w = fmap.shape[2:]
            vec = fmap.permute(0, 2, 3, 1).reshape(len(ids), h * w, -1).cpu().numpy()
            yy, xx = np.divmod(np.arange(h * w), w)
            per = [vec[i] for i in range(len(ids))]
            places = [np.stack([yy, xx, np.full_like(yy, h), np.full_like(yy, w)], 1)] * len(ids)
            if labels is not None and level == "pixel":
                grids = pixel_grids(batch)
                labels = [lab[((yy + 0.5) * gh / h).astype(int) * gw
                              + ((xx + 0.5) * gw / w).astype(int)]
                          for lab, (gh, gw) in zip(labels, grids)]
        else:
            spans = symbol_spans(batch, level)
            x = align(enc.spans, spans).to(dev).gather(seen[layer]).float().cpu().numpy()
            per = np.split(x, np.cumsum([len(s) for s in spans])[:-1])
            places = spans
            for r, s, v in zip(ids, spans, per):
                norms[int(r)] = (s, np.linalg.norm(v, axis=1))
        for i, r in enumerate(ids):
            pick = np.sort(rng.choice(len(per[i]), min(cap, len(per[i])), replace=False))
            out["v"].append(per[i][pick])
            out["r"].append(np.full(len(pick), r))
            out["p"].append(np.asarray(places[i])[pick])
            if labels is not None:
                lab = labels[i] if level != "record" else np.repeat(labels[i], len(per[i]))
                out["y"].append(np.asarray(lab)[pick])
    n = sum(len(v) for v in out["v"])
    keep = np.sort(rng.choice(n, min(points, n), replace=False))
    return Points(np.concatenate(out["v"])[keep],
                  np.concatenate(out["y"])[keep] if out["y"] else None,
                  np.concatenate(out["r"])[keep], np.concatenate(out["p"])[keep], norms)


def page(graph: mapper_.MapperGraph, pts: Points, data, title: str, path: str | Path,
         hypothesis: str | None = None, seed: int = 0) -> Path:
    """The interactive mapper page: nodes sized by members, coloured by the dominant label
    (or by purity), edges by shared members; clicking a node lists its members. A page in a
    folder named ``topo`` links to the report beside it (which lists the pages there)."""
    import matplotlib

    path = Path(path)
    pos = mapper_.layout(graph, seed)
    comp = graph.composition()
    g = graph.graph()
    labels = sorted({c["dominant"] for c in comp.values() if c["dominant"] is not None})
    palette = matplotlib.colormaps["tab20"]
    label_fill = {name: matplotlib.colors.to_hex(palette(i % 20)) for i, name in enumerate(labels)}
    purity = pages.colours(np.array([c["purity"] or 0 for c in comp.values()]), False, 1.0)
    biggest = max((len(v) for v in graph.nodes.values()), default=1)
    image = "text" not in data.column_names
    thumbs = path.parent / f"{path.stem}_files"
    nodes = []
    for (k, members), pfill in zip(graph.nodes.items(), purity):
        c = comp[k]
        shown = np.asarray(members)[np.linspace(0, len(members) - 1,
                                                min(SHOWN, len(members))).astype(int)]
        nodes.append(dict(id=k, x=pos[k][0], y=pos[k][1], size=len(members),
                          r=4 + 14 * math.sqrt(len(members) / biggest),
                          fill=label_fill.get(c["dominant"], "#999"), pfill=pfill,
                          dominant=c["dominant"], purity=c["purity"], counts=c["counts"],
                          lens=[float(graph.lens[members].min()), float(graph.lens[members].max())],
                          members=[_member(graph, pts, data, int(i), image, thumbs) for i in shown]))
    top = max((d["weight"] for _, _, d in g.edges(data=True)), default=1)
    edges = [dict(a=pos[a], b=pos[b], w=d["weight"], width=0.5 + 4 * d["weight"] / top)
             for a, b, d in g.edges(data=True)]
    return pages.write_page(pages.environment(), "mapper.html", path, title=title, nodes=nodes,
                            edges=edges, legend=label_fill, summary=graph.summary(),
                            params=graph.params, hypothesis=hypothesis,
                            report=path.parent.name == "topo")


def _member(graph, pts: Points, data, i: int, image: bool, thumbs: Path) -> dict:
    row = int(pts.rows[i])
    label = None if pts.labels is None else graph.name(pts.labels[i])
    if image:
        y, x, h, w = (int(v) for v in pts.place[i])
        thumb = thumbs / f"{row}.png"
        if not thumb.exists():
            thumbs.mkdir(parents=True, exist_ok=True)
            im = data[row]["image"]
            im = im.convert("RGB") if hasattr(im, "convert") else _pil(im)
            im.resize((72, 72)).save(thumb)
        return dict(row=row, label=label, img=f"{thumbs.name}/{thumb.name}",
                    top=100 * (y + 0.5) / h, left=100 * (x + 0.5) / w)
    start, end = (int(v) for v in pts.place[i])
    text = data[row]["text"]
    lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
    spans, norms = pts.norms[row]
    level = np.zeros(hi - lo)
    near = (spans[:, 1] > lo) & (spans[:, 0] < hi)
    for (s, e), v in zip(spans[near], norms[near]):  # the few symbols in the window
        level[max(s, lo) - lo:min(e, hi) - lo] = v
    # the lighter 60% of the map, so that the text stays legible on the strongest
    fills = pages.colours(level, False, (float(norms.max()) or 1.0) / 0.6, "Oranges")
    return dict(row=row, label=label, chars=[
        dict(c=c, fill=f, on=start <= lo + j < end) for j, (c, f) in enumerate(zip(text[lo:hi],
                                                                                  fills))])


def _pil(array):
    from PIL import Image
    return Image.fromarray(np.asarray(array, dtype=np.uint8))
