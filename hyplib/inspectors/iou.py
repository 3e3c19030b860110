"""NetDissect IoU of each unit's top-quantile mask with each label column, in one pass."""
from __future__ import annotations

import torch

from ..types import Scores
from .correlation import _normal_quantile
from .histogram import HistogramInspector
from .quantile import QuantileSketch
from .streaming import BatchSums, WithBatchSums


class IoU(WithBatchSums, HistogramInspector):
    """IoU = Σ|A ∩ L| / Σ|A ∪ L| over the whole data, with A = activation > the unit's
    ``quantile`` (top 0.5%) threshold and L a binary column (a categorical hypothesis: each
    class); the unit is a ``"detector"`` (1, else 0) where IoU > ``detect``.

    One pass, two structures per unit. The threshold comes from a streaming quantile sketch
    of every symbol (:class:`~hyplib.inspectors.quantile.QuantileSketch`, ``sketch_k`` items
    per level; its rank error bound is :meth:`rank_error`). NetDissect-Lite counts |A ∩ L| in a
    second pass; here a fine histogram of activations jointly with the labels
    (:class:`~hyplib.inspectors.histogram.LabelHistogram`: per bin, the count of all symbols
    and of each column's positives, and the smallest and largest value) gives the
    intersection at the threshold once it is known. Its edges are set once, at quantiles of
    the first ``warmup`` symbols (a seeded sample in the engine's record order), refined in
    the tail: ``bins // 4`` bins evenly in level up to ``q0 = 1 - 8(1 - quantile)`` (0.96),
    the rest evenly from ``q0`` to 1. Counts are exact at every edge, so the bin holding the
    threshold's rank ``quantile·(n-1)`` is known exactly, and the sketch's value is clamped
    into that bin's extent. That bin's symbols above the threshold (by rank; none when the
    bin holds one value, so ties and discrete activations are exact) are split between label
    and not in proportion: |A ∩ L| is off by at most the bin's count, about
    ``(1 - q0) / (3/4·bins)`` of the symbols (0.01% by default, 2% of |A|) while the first
    symbols represent the rest; on an adversarial order (sorted activations) the bin is wide,
    and so is the interval.

    Interval: ``± z·SE`` around the smallest and the largest IoU any split of that bin allows,
    SE being the delta-method standard error of an IoU at an estimated quantile threshold
    (:func:`_standard_error`, with each label's rate near the threshold read from the bins
    within ``n(1 - quantile)/2`` ranks of it); the detector's interval is that interval's ends
    against ``detect``. Memory, whatever the number of symbols: ``units × bins × (1 +
    columns)`` float64 counts, at most about ``3·sketch_k`` floats per unit for the sketch,
    and ``warmup`` rows until the edges are set.

    For a p-value robust to dependence within records, ``batch`` sums each batch's
    ``Σ a·(l - l̄)`` with ``a`` = activation above the histogram's edge at ``quantile`` (set
    from the first symbols: a fixed stand-in for the final threshold), per unit and column
    (:mod:`hyplib.significance`).
    """

    name = "iou"

    def __init__(self, n_units: int, columns, device, quantile: float = 0.995,
                 detect: float = 0.04, bins: int = 512, warmup: int = 16384,
                 sketch_k: int = 2048, confidence: float = 0.95):
        if not 0 < quantile < 1:
            raise ValueError(f"iou: quantile must lie strictly between 0 and 1 (0.995 keeps the "
                             f"top 0.5%), not {quantile}")
        if bins < 8:
            raise ValueError(f"iou: bins must be at least 8 (default 512), not {bins}")
        super().__init__(n_units, columns, device, bins=bins, warmup=warmup,
                         confidence=confidence, levels=_tail_levels(bins, quantile))
        self.quantile, self.detect = quantile, detect
        self.sketch = QuantileSketch(n_units, device, sketch_k)
        self.batch = BatchSums((n_units, len(self.columns)), device)
        self._edge = int((self.hist.levels - quantile).abs().argmin())

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        super().update(x, y)
        self.sketch.update(x)
        if x.shape[0]:
            above = (x > self.hist.tally().edges[:, self._edge]).to(torch.float64)
            hit = (y > 0.5).double()
            self.batch.add(above.T @ (hit - hit.mean(0)))

    def threshold(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each unit's threshold and the smallest and largest value of the bin holding it."""
        thr, lo, hi, *_ = self._split()
        return thr[:, 0], lo[:, 0], hi[:, 0]

    def rank_error(self, delta: float = 0.01) -> float:
        """The sketch's bound on its threshold's rank error, with probability ``1 - delta``."""
        return self.sketch.rank_error(delta)

    def _split(self):
        """The threshold and its bin's extent; that bin's counts (all, positives of each
        column), how many of its symbols are above the threshold, the counts above the bin and
        in all (each units × 1+columns), and each column's positive rate near the threshold
        (units × columns: in the bins within ``n(1 - quantile)/2`` ranks of it)."""
        t = self.hist.tally()
        cum = t.counts.cumsum(1)
        r = torch.full_like(cum[:, :1, 0], self.quantile * (self.hist.seen - 1))
        b = torch.searchsorted(cum[..., 0].contiguous(), r, right=True)
        b = b.clamp(max=cum.shape[1] - 1)
        lo, hi = t.low.double().gather(1, b), t.high.double().gather(1, b)
        at = b[:, :, None].expand(-1, 1, cum.shape[2])
        count, upto = t.counts.gather(1, at)[:, 0], cum.gather(1, at)[:, 0]
        c = count[:, :1]
        above_bin = torch.where(hi > lo, upto[:, :1] - 1 - r, 0.0).clamp(min=0).minimum(c)
        thr = self.sketch.quantile(self.quantile).double()[:, None]
        thr = torch.minimum(torch.maximum(thr, lo), hi)
        h = (1 - self.quantile) * self.hist.seen / 2
        near = ((cum[..., 0] > r - h) & (cum[..., 0] - t.counts[..., 0] < r + h)).double()
        local = torch.einsum("ub,ubc->uc", near, t.counts)
        return (thr, lo, hi, count, above_bin, cum[:, -1] - upto, cum[:, -1],
                local[:, 1:] / local[:, :1])

    def scores(self) -> list[Scores]:
        _, _, _, count, a_bin, above, total, m = self._split()
        size_a, size_l = above[:, :1] + a_bin, total[:, 1:]
        c, c_l = count[:, :1], count[:, 1:]
        inter = [above[:, 1:] + split for split in (
            a_bin * c_l / c, (a_bin - c + c_l).clamp(min=0), torch.minimum(a_bin, c_l))]
        union = [size_a + size_l - i for i in inter]
        iou, iou_min, iou_max = (i / u for i, u in zip(inter, union))
        half = _normal_quantile(self.confidence) * _standard_error(
            inter[0], size_a, size_l, m, float(self.hist.seen))
        low, high = (iou_min - half).clamp(0, 1), (iou_max + half).clamp(0, 1)
        n = torch.full_like(iou, float(self.hist.seen))
        return [Scores(iou, low, high, n, "iou"),
                Scores(*((v > self.detect).double() for v in (iou, low, high)), n,
                       "detector")]

    def fork(self, offset: int = 0) -> IoU:
        new = super().fork(offset)
        new.sketch = self.sketch.empty(seed=self.sketch.seed + 1 + offset)
        return new

    def merge(self, other: IoU) -> None:
        super().merge(other)
        self.sketch.merge(other.sketch)

    def to(self, device) -> IoU:
        super().to(device)
        self.sketch.to(device)
        return self

    def state_dict(self) -> dict:
        return {"histogram": super().state_dict(), "sketch": self.sketch.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state["histogram"])
        self.sketch.load_state_dict(state["sketch"])


def _standard_error(inter, size_a, size_l, m, n: float) -> torch.Tensor:
    """The delta-method standard error of IoU = I / (|A| + |L| - I) with A above the sample
    quantile: by Bahadur's representation the estimated threshold makes I behave as
    ``Σ a_i (l_i - m)`` (``a_i``: above the true threshold; ``m``: the label's rate there) while
    |A| is fixed, so IoU's influence per symbol is ``g1·a(l - m) - g2·l`` with
    ``g1 = (u + i) / u²``, ``g2 = i / u²`` (per-symbol means ``i``, ``u``)."""
    i, a, lab = inter / n, size_a / n, size_l / n
    u = a + lab - i
    g1, g2 = (u + i) / u ** 2, i / u ** 2
    var_psi = i * (1 - 2 * m) + m * m * a - (i - m * a) ** 2
    cov = i * (1 - m) - (i - m * a) * lab
    var = g1 * g1 * var_psi - 2 * g1 * g2 * cov + g2 * g2 * lab * (1 - lab)
    return (var.clamp(min=0) / n).sqrt().nan_to_num(0.0)


def _tail_levels(bins: int, quantile: float) -> torch.Tensor:
    """``bins - 1`` interior levels: a quarter of the bins up to ``q0``, the rest above it."""
    q0 = max(0.0, 1 - 8 * (1 - quantile))
    body = bins // 4
    return torch.cat([torch.linspace(0, q0, body + 1, dtype=torch.float64)[1:],
                      torch.linspace(q0, 1, bins - body + 1, dtype=torch.float64)[1:-1]])
