"""TopoAct (Rathore et al. 2021): the mapper graph of a layer's activation space.

KeplerMapper builds the graph: a lens (each vector's L2 norm, or its first principal
component) is covered by overlapping intervals, the vectors of each interval are clustered
with DBSCAN, and a node is one cluster; two nodes are linked when they share vectors. Nodes are
then coloured by the dominant label of a hypothesis among their members and by its purity
(the dominant label's share).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import kmapper as km
import networkx as nx
import numpy as np
from scipy import sparse
from scipy.stats import rankdata
from sklearn.cluster import DBSCAN
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from ..errors import HyplibError

LENSES = ("l2norm", "pca")


@dataclass
class MapperGraph:
    """kmapper's nodes (id -> member indices into the points) and the graph's summaries."""

    nodes: dict[str, list[int]]
    lens: np.ndarray
    params: dict
    labels: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)

    def graph(self) -> nx.Graph:
        """Nodes with their ``size``; edges weighted by the number of shared members."""
        ids = list(self.nodes)
        rows = np.repeat(np.arange(len(ids)), [len(self.nodes[k]) for k in ids])
        cols = np.concatenate([self.nodes[k] for k in ids]) if ids else np.zeros(0, int)
        m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                              shape=(len(ids), len(self.lens)))
        shared = sparse.triu(m @ m.T, k=1).tocoo()  # members shared by each pair of nodes
        g = nx.Graph()
        g.add_nodes_from((k, {"size": len(self.nodes[k])}) for k in ids)
        g.add_weighted_edges_from((ids[i], ids[j], int(w))
                                  for i, j, w in zip(shared.row, shared.col, shared.data))
        return g

    def summary(self) -> dict:
        g = self.graph()
        parts = nx.number_connected_components(g) if len(g) else 0
        return dict(nodes=g.number_of_nodes(), edges=g.number_of_edges(), components=parts,
                    cycles=g.number_of_edges() - g.number_of_nodes() + parts)

    def composition(self) -> dict[str, dict]:
        """Per node: label counts, the dominant label and its purity."""
        out = {}
        for k, members in self.nodes.items():
            if self.labels is None:
                out[k] = dict(counts={}, dominant=None, purity=None)
                continue
            values, counts = np.unique(self.labels[members], return_counts=True)
            top = int(np.argmax(counts))
            out[k] = dict(counts={self.name(v): int(c) for v, c in zip(values, counts)},
                          dominant=self.name(values[top]),
                          purity=float(counts[top] / counts.sum()))
        return out

    def name(self, value) -> str:
        if self.classes and float(value).is_integer() and 0 <= int(value) < len(self.classes):
            return self.classes[int(value)]
        return f"{value:g}"


def auto_eps(points: np.ndarray, min_samples: int, quantile: float = 0.99) -> float:
    """DBSCAN's default radius: the ``quantile`` of the distances from each vector to its
    ``min_samples``-th nearest neighbour. Nearly every vector is then a core point and a
    cluster is a piece of an interval connected at that scale, while the sparsest 1% (outliers)
    cannot set the scale; a smaller ``eps`` resolves finer structure."""
    k = min(min_samples + 1, len(points))  # the point itself comes first
    dist, _ = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(points)
    return float(np.quantile(dist[:, -1], quantile)) or 1e-9


def build(points: np.ndarray, labels: np.ndarray | None = None, classes=(),
          lens: str | np.ndarray = "l2norm", intervals: int = 10, overlap: float = 0.3,
          eps: float | None = None, min_samples: int = 3, seed: int = 0,
          balanced: bool = True) -> MapperGraph:
    """The mapper graph of ``points`` (n × units) with kmapper: the lens (``"l2norm"``,
    ``"pca"`` or an array of n values), ``intervals`` cover intervals overlapping by
    ``overlap`` (a fraction), DBSCAN with radius ``eps`` (default :func:`auto_eps`).

    ``balanced`` covers the lens' ranks instead of its values, so each interval holds about
    as many vectors (a monotone change of the lens: the same preimages, in a cover that a
    few outlying vectors cannot stretch).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or len(points) < 2:
        raise HyplibError(f"a mapper graph needs at least 2 activation vectors, got shape "
                          f"{points.shape}: sample more records")
    if not 0 < overlap < 1:
        raise HyplibError(f"overlap {overlap} is not a fraction in (0, 1): write 0.3 for 30%")
    mapper = km.KeplerMapper(verbose=0)
    if isinstance(lens, str):
        if lens not in LENSES:
            raise HyplibError(f"unknown lens {lens!r}: use one of {LENSES}")
        projection = "l2norm" if lens == "l2norm" else PCA(n_components=1, random_state=seed)
        values = mapper.fit_transform(points, projection=projection, scaler=None)
    else:
        values = np.asarray(lens, dtype=np.float64).reshape(len(points), -1)
    raw = values[:, 0]
    if balanced:
        values = rankdata(values, axis=0) / len(values)
    eps = eps or auto_eps(points, min_samples)
    params = dict(lens=lens if isinstance(lens, str) else "given", balanced=balanced,
                  intervals=intervals,
                  overlap=overlap, eps=eps, min_samples=min_samples, points=len(points))
    found = mapper.map(values, points, cover=km.Cover(n_cubes=intervals, perc_overlap=overlap),
                       clusterer=DBSCAN(eps=eps, min_samples=min_samples))
    return MapperGraph({k: list(map(int, v)) for k, v in found["nodes"].items()},
                       raw, params, labels, list(classes))


def layout(graph: MapperGraph, seed: int = 0, size: float = 760.0) -> dict[str, tuple]:
    """Node positions in a ``size`` square: networkx's spring layout of each component, the
    largest component on the left two thirds, the others in a grid on the right."""
    g = graph.graph()
    parts = sorted(nx.connected_components(g), key=len, reverse=True)
    if not parts:
        return {}
    boxes = [(0.0, 0.0, size * (2 / 3 if len(parts) > 1 else 1.0), size)]
    rest = len(parts) - 1
    cols = max(1, math.ceil(math.sqrt(rest / 2)))
    rows = max(1, math.ceil(rest / cols))
    cell_w, cell_h = size / 3 / cols, size / rows
    boxes += [(size * 2 / 3 + (i % cols) * cell_w, (i // cols) * cell_h, cell_w, cell_h)
              for i in range(rest)]
    out = {}
    for part, (x0, y0, w, h) in zip(parts, boxes):
        pos = nx.spring_layout(g.subgraph(part), seed=seed, weight="weight")
        xy = np.array(list(pos.values())).reshape(-1, 2)
        span = np.ptp(xy, 0)
        span[span == 0] = 1
        pad = min(24.0, w / 4, h / 4)
        xy = (xy - xy.min(0)) / span * [w - 2 * pad, h - 2 * pad] + [x0 + pad, y0 + pad]
        if len(part) == 1:
            xy = np.array([[x0 + w / 2, y0 + h / 2]])
        out.update({k: (float(x), float(y)) for k, (x, y) in zip(pos, xy)})
    return out
