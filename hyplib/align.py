"""Alignment of model positions to hypothesis symbols.

Text: a model position covers a character span (a character, a word piece, a word); a symbol is
a character (``char``), a word (``word``, spans given by the record's ``word_spans``) or the
whole record (``record``). A symbol's behaviour is the first, last or mean of the positions that
overlap it. Padding positions have span (-1, -1) and never reach a statistic. Everything is
computed for the whole batch at once with ``searchsorted`` on batch-global offsets.

Images: a symbol is a pixel of the record's label grid (``pixel``, ``height`` × ``width``
columns, row-major) or the whole image (``record``). A conv layer's feature map is upsampled
bilinearly to the grid (:class:`Upsampler`), in chunks of bounded size; a whole image's
behaviour is the map's spatial mean.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .errors import AnnotationError, BehaviourError
from .settings import POOLS, check_choice

PIXEL_BUDGET = 1 << 22  # at most this many (pixel, unit) values upsampled at once (16 MB)


def symbol_spans(batch: dict[str, list], level: str) -> list[np.ndarray]:
    """Each record's symbols as (n, 2) spans: of characters, or of a pixel's row-major index
    in the label grid (``pixel``)."""
    if level == "pixel":
        return [np.stack([np.arange(n), np.arange(1, n + 1)], axis=1, dtype=np.int32)
                for n in pixel_grids(batch).prod(1)]
    if level == "record" and "text" not in batch:
        return [np.array([[0, 1]]) for _ in next(iter(batch.values()))]
    texts = batch["text"]
    if level == "char":
        return [np.stack([np.arange(len(t)), np.arange(1, len(t) + 1)], axis=1) for t in texts]
    if level == "record":
        return [np.array([[0, len(t)]]) for t in texts]
    if level == "word":
        if "word_spans" not in batch:
            raise AnnotationError("word-level hypotheses need records with a 'word_spans' column "
                                  "(the character span of each word in 'text')")
        return [np.asarray(s, dtype=np.int64).reshape(-1, 2) for s in batch["word_spans"]]
    raise ValueError(f"unknown level {level!r}")


@dataclass
class Alignment:
    """Which flattened (batch × positions) rows make each symbol's behaviour."""

    rows: torch.Tensor          # position row for each (symbol, position) pair
    symbols: torch.Tensor       # symbol of each pair
    counts: torch.Tensor        # positions per symbol
    n_symbols: int
    pool: str

    def to(self, device) -> "Alignment":
        return Alignment(self.rows.to(device), self.symbols.to(device), self.counts.to(device),
                         self.n_symbols, self.pool)

    def gather(self, behaviour: torch.Tensor) -> torch.Tensor:
        """(batch, positions, units) -> (symbols, units)."""
        if behaviour.dim() != 3:
            raise BehaviourError(f"a text model's layer gave shape {tuple(behaviour.shape)}, not "
                                 f"(batch, positions, units); feature maps need an ImageModel")
        flat = behaviour.reshape(-1, behaviour.shape[-1])
        if self.pool != "mean":
            return flat.index_select(0, self.rows)
        out = torch.zeros(self.n_symbols, flat.shape[1], dtype=flat.dtype, device=flat.device)
        out.index_add_(0, self.symbols, flat.index_select(0, self.rows))
        return out / self.counts[:, None].to(flat.dtype)


def align(spans: np.ndarray, symbols: Sequence[np.ndarray], pool: str = "first",
          record_ids: Sequence[int] | None = None) -> Alignment:
    """Align positions with character ``spans`` (batch, positions, 2) to ``symbols``."""
    check_choice("pool", pool, POOLS)
    b, t = spans.shape[:2]
    counts = np.array([len(s) for s in symbols])
    sym = np.concatenate(list(symbols)).reshape(-1, 2) if len(symbols) else np.zeros((0, 2), int)
    stride = int(max(spans.max(initial=0), sym.max(initial=0))) + 1
    valid = spans[..., 0] >= 0
    rows = np.flatnonzero(valid)
    base = (rows // t) * stride
    order = np.argsort(spans[..., 0].reshape(-1)[rows] + base, kind="stable")
    rows = rows[order]
    starts = spans[..., 0].reshape(-1)[rows] + base[order]
    ends = spans[..., 1].reshape(-1)[rows] + base[order]
    sym_base = np.repeat(np.arange(b) * stride, counts)
    s, e = sym[:, 0] + sym_base, sym[:, 1] + sym_base
    first = np.searchsorted(ends, s, side="right")
    last = np.searchsorted(starts, e, side="left") - 1
    bad = first > last
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        rec = int(np.repeat(np.arange(b), counts)[i])
        rid = record_ids[rec] if record_ids is not None else rec
        raise AnnotationError(
            f"record {rid}: the symbol at characters [{sym[i, 0]}, {sym[i, 1]}) is covered by no "
            f"model position ({int(bad.sum())} such symbols in this batch); the tokenizer "
            f"dropped or truncated that text, or the record's spans do not match its text")
    if pool == "first":
        pick, per = first, np.ones_like(first)
    elif pool == "last":
        pick, per = last, np.ones_like(last)
    else:
        pick, per = first, last - first + 1
    pair_sym = np.repeat(np.arange(len(sym)), per)
    step = np.arange(len(pair_sym)) - np.repeat(np.cumsum(per) - per, per)
    return Alignment(torch.from_numpy(rows[pick[pair_sym] + step]),
                     torch.from_numpy(pair_sym), torch.from_numpy(per), len(sym), pool)


def pixel_grids(batch: dict[str, list]) -> np.ndarray:
    """Each record's label grid as (records, 2) ``height``, ``width``."""
    if "height" not in batch or "width" not in batch:
        raise AnnotationError("pixel-level hypotheses need records with 'height' and 'width' "
                              "columns (the size of the label grid, usually the mask's); "
                              f"these records have {sorted(batch)}")
    grids = np.stack([np.asarray(batch["height"]), np.asarray(batch["width"])], 1).astype(np.int64)
    if (grids < 1).any():
        raise AnnotationError(f"a record's label grid is {grids[(grids < 1).any(1)][0].tolist()}: "
                              f"'height' and 'width' must be positive")
    return grids


def feature_map(behaviour: torch.Tensor, layer: str) -> torch.Tensor:
    """A layer's image behaviour as (batch, units, h, w): a (batch, 1, units) vector is a 1×1 map."""
    if behaviour.dim() == 4:
        return behaviour
    if behaviour.dim() == 3 and behaviour.shape[1] == 1:
        return behaviour.transpose(1, 2)[..., None]
    raise BehaviourError(f"layer {layer!r} gives shape {tuple(behaviour.shape)}, not a feature "
                         f"map (batch, channels, h, w) or a vector per image")


def interpolation_matrix(n_in: int, n_out: int, device=None) -> torch.Tensor:
    """(n_out, n_in) weights of 1-D linear upsampling with ``align_corners=False``: the rows of
    ``M @ v`` equal ``F.interpolate(v, n_out, mode="linear")`` (bilinear is one per axis)."""
    eye = torch.eye(n_in, device=device)[None]
    return F.interpolate(eye, size=n_out, mode="linear", align_corners=False)[0].T.contiguous()


class Upsampler:
    """Feature maps to (pixels × units) rows, upsampled bilinearly to each record's grid.

    :meth:`chunks` yields, for runs of records with the same grid, row bands of at most
    ``budget`` (pixel, unit) values: the behaviours and their rows in the batch's row-major
    pixel order, so the labels of those pixels are ``labels[rows]``. Each band interpolates
    along the rows of the map it reads only, so memory stays near ``budget`` however large the
    images. Nothing is padded.
    """

    def __init__(self, grids: np.ndarray, budget: int = PIXEL_BUDGET):
        self.grids, self.budget = grids, budget
        self.starts = np.concatenate([[0], np.cumsum(grids.prod(1))[:-1]])

    def chunks(self, fmap: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        units, (h, w), dev = fmap.shape[1], fmap.shape[2:], fmap.device
        for (gh, gw) in np.unique(self.grids, axis=0):
            recs = np.flatnonzero((self.grids == (gh, gw)).all(1))
            my, mx = (interpolation_matrix(h, int(gh), dev), interpolation_matrix(w, int(gw), dev))
            band = max(1, min(int(gh), self.budget // (int(gw) * units)))
            per = max(1, self.budget // (int(gh) * int(gw) * units)) if band == gh else 1
            for lo in range(0, len(recs), per):
                part = fmap.index_select(0, torch.from_numpy(recs[lo:lo + per]).to(dev)).float()
                starts = torch.from_numpy(self.starts[recs[lo:lo + per]]).to(dev)
                for top in range(0, int(gh), band):
                    rows_y = torch.arange(top, min(top + band, int(gh)), device=dev)
                    src = my[rows_y].any(0).nonzero()  # the map rows this band reads
                    a, b = int(src[0]), int(src[-1]) + 1
                    cols = torch.einsum("kchw,Xw->khXc", part[:, :, a:b], mx)
                    x = torch.einsum("Yh,khXc->kYXc", my[rows_y, a:b], cols)
                    rows = (starts[:, None, None] + rows_y[None, :, None] * int(gw)
                            + torch.arange(int(gw), device=dev)[None, None, :])
                    yield rows.reshape(-1), x.reshape(-1, units)


def image_means(fmap: torch.Tensor) -> torch.Tensor:
    """A whole image's behaviour: the feature map's spatial mean, (batch, units)."""
    return fmap.float().mean((2, 3))
