"""Measures of a dependency tree, vectorised with numpy over the words of a sentence.

A tree is given by ``head``: for word ``i`` (1-based), the index of its head, 0 for a root.
Several roots (a forest, as spaCy gives for a multi-sentence text) are allowed.
"""
from __future__ import annotations

import numpy as np


def _heads(head) -> np.ndarray:
    head = np.asarray(head, dtype=np.int64).reshape(-1)
    if ((head < 0) | (head > len(head))).any():
        raise ValueError(f"heads must be 0 (root) or a word index 1..{len(head)}: {head.tolist()}")
    return head


def depth(head) -> np.ndarray:
    """The number of arcs from each word up to its root (a root has depth 0).

    Follows every word's parent pointer at once, one step per level of the tree.
    """
    parent = _heads(head) - 1  # 0-based; -1 at a root
    out = np.zeros(len(parent), np.int64)
    node = np.arange(len(parent))
    for _ in range(len(parent) + 1):
        up = parent[node]
        moving = up >= 0
        if not moving.any():
            return out
        out += moving
        node = np.where(moving, up, node)
    raise ValueError(f"the heads contain a cycle: {np.asarray(head).tolist()}")


def head_distance(head) -> np.ndarray:
    """|head - i| for each word i; 0 for a root."""
    head = _heads(head)
    return np.where(head == 0, 0, np.abs(head - np.arange(1, len(head) + 1)))


def open_arcs(head) -> np.ndarray:
    """The number of arcs still open when word i is read, for each word i.

    That is the arcs (h, d) between two words (a root's arc excluded) with
    min(h, d) < i <= max(h, d): those that an earlier word started and that word i closes or
    spans over; a dependency-tree proxy for the number of open constituents.
    """
    head = _heads(head)
    n = len(head)
    dep = np.arange(1, n + 1)[head > 0]
    lo, hi = np.minimum(head[head > 0], dep), np.maximum(head[head > 0], dep)
    started = np.bincount(lo, minlength=n + 1).cumsum()  # started[k]: arcs with lo <= k
    closed = np.bincount(hi, minlength=n + 1).cumsum()
    return started[:n] - closed[:n]  # at word i: arcs with lo < i minus those with hi < i
