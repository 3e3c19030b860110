"""A streaming, paired Poisson bootstrap over records.

Each record gets, for replicate b, a weight drawn from Poisson(1) as a function of a hash of
its text, b and the seed only (Hanley & MacGibbon 2006; Chamandy et al. 2012): so replicate b of
two passes over the same records (two models, intact and ablated, two data sets sharing
records) resamples the *same* records, and the replicate differences carry the pairing. Whole
records are resampled, so the symbols of one record, which are not independent, move together.
Records with the same text share their weights (they are then resampled as one cluster, which
can only widen an interval).

:class:`ReplicatedCorrelation` keeps, per replicate, the weighted sums from which Pearson's r
follows; a batch costs one matrix product for the per-record sums and one small product with
the weights.
"""
from __future__ import annotations

import functools
import hashlib
import warnings

import numpy as np
import torch

from ..types import Hypothesis

REPLICATES = 200
KEY_BITS = 24  # a record key is exact in the float32 label matrix
_POISSON_CDF = np.cumsum([np.exp(-1.0) / np.prod(np.arange(1, k + 1)) for k in range(30)])
_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), \
    np.uint64(0x94D049BB133111EB)


def record_key(text: str) -> int:
    """The record's key: a 24-bit hash of its text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=3).digest(), "big")


def record_keys(level: str) -> Hypothesis:
    """A continuous hypothesis labelling every ``level`` symbol with its record's key."""
    def fn(batch):
        keys = [record_key(t) for t in batch["text"]]
        if level == "record":
            return keys
        counts = ([len(t) for t in batch["text"]] if level == "char" else
                  [len(s) for s in batch["word_spans"]])
        return [np.full(n, k, dtype=np.float32) for k, n in zip(keys, counts)]

    return Hypothesis(f"query.record_key.{level}", fn, "continuous", level, "1",
                      description="the record's key for the paired bootstrap")


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def poisson_weights(keys: np.ndarray, replicates: int, seed: int = 0) -> np.ndarray:
    """(records × replicates) Poisson(1) weights, each fixed by (key, replicate, seed)."""
    keys = np.asarray(keys, dtype=np.uint64)
    b = np.arange(replicates, dtype=np.uint64)
    with np.errstate(over="ignore"):
        counter = (keys[:, None] << np.uint64(32)) ^ (b[None, :] << np.uint64(8)) ^ np.uint64(seed)
    u = (_splitmix(_splitmix(counter)) >> np.uint64(11)).astype(np.float64) / 2.0 ** 53
    return np.searchsorted(_POISSON_CDF, u, side="right").astype(np.float64)


@functools.lru_cache(maxsize=16)
def _weights(keys: bytes, replicates: int, seed: int) -> np.ndarray:
    """:func:`poisson_weights` of a batch's record keys (int64 bytes), computed once for all
    the layers and models that read the batch."""
    return poisson_weights(np.frombuffer(keys, dtype=np.int64), replicates, seed)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of each row of ``replicates`` (rows × B); NaN replicates
    (a statistic undefined on a resample) are left out."""
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():  # an all-NaN row gives NaN bounds
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(replicates, [tail, 100 - tail], axis=1)
    return low, high


class ReplicatedCorrelation:
    """Pearson r of every unit with every column, on each of ``replicates`` Poisson resamples
    of the records. ``add`` takes each symbol's record key."""

    def __init__(self, n_units: int, n_columns: int, device, replicates: int = REPLICATES,
                 seed: int = 0):
        self.replicates, self.seed, self.device = replicates, seed, device
        f64 = {"dtype": torch.float64, "device": device}
        self.n = torch.zeros(replicates, **f64)
        self.sx = torch.zeros(replicates, n_units, **f64)
        self.sxx = torch.zeros(replicates, n_units, **f64)
        self.sy = torch.zeros(replicates, n_columns, **f64)
        self.syy = torch.zeros(replicates, n_columns, **f64)
        self.sxy = torch.zeros(replicates, n_units, n_columns, **f64)
        self.shift: tuple[torch.Tensor, torch.Tensor] | None = None

    def add(self, x: torch.Tensor, y: torch.Tensor, keys: torch.Tensor) -> None:
        if x.shape[0] == 0:
            return
        if self.shift is None:  # sums about a fixed point, so that r loses no precision
            self.shift = (x.double().mean(0), y.double().mean(0))
        x, y = x.double() - self.shift[0], y.double() - self.shift[1]
        unique, inverse = torch.unique(keys, return_inverse=True)
        w = _weights(unique.cpu().numpy().tobytes(), self.replicates, self.seed)
        w = torch.from_numpy(w).to(self.device)  # records × B
        records, n_x, n_y = len(unique), x.shape[1], y.shape[1]
        one_hot = torch.zeros(x.shape[0], records, dtype=torch.float64, device=x.device)
        one_hot[torch.arange(x.shape[0], device=x.device), inverse] = 1.0
        # per-record sums of 1, x, x², y, y² (records × columns), then weighted per replicate
        sums = w.T @ (one_hot.T @ torch.cat([one_hot.new_ones(x.shape[0], 1), x, x * x, y,
                                             y * y], 1))
        n, sx, sxx, sy, syy = sums.split([1, n_x, n_x, n_y, n_y], dim=1)
        self.n += n[:, 0]
        self.sx += sx
        self.sxx += sxx
        self.sy += sy
        self.syy += syy
        spread = (one_hot[:, :, None] * y[:, None, :]).reshape(x.shape[0], records * n_y)
        per_xy = (x.T @ spread).view(n_x, records, n_y).transpose(0, 1)  # records × units × c
        self.sxy += (w.T @ per_xy.reshape(records, n_x * n_y)).view(-1, n_x, n_y)

    def values(self) -> np.ndarray:
        """(replicates × units × columns) r; NaN where a unit or column is constant."""
        n = self.n[:, None]
        vx = n * self.sxx - self.sx ** 2
        vy = n * self.syy - self.sy ** 2
        cov = n[:, :, None] * self.sxy - self.sx[:, :, None] * self.sy[:, None, :]
        denom = torch.sqrt(vx[:, :, None] * vy[:, None, :])
        r = torch.where(denom > 0, cov / denom, torch.nan).clamp(-1, 1)
        return r.cpu().numpy()

    def state_dict(self) -> dict:
        keys = ("n", "sx", "sxx", "sy", "syy", "sxy")
        return {k: getattr(self, k) for k in keys} | {"shift": self.shift}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)
