"""Batching-independent sampling for the probes: a hashed held-out split, reservoirs, co-moments.

Every random choice is a hash of the symbol's position in the stream (and a seed), so the split
and the samples are the same whatever the batch size, and on any device.
"""
from __future__ import annotations

import threading

import numpy as np
import torch

_MASK = 0xFFFFFFFF
_LOCAL = threading.local()
_ROWS = 256  # rows per float32 block of the co-moments (see _shifted_moments)


def float64_copy(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64, to be used in place until this thread's next call.

    On the CPU the copy lives in one buffer per thread, reused (and grown) from call to call: a
    fresh array per batch costs more in page faults than the copy itself, since the allocator
    maps large blocks anew each time. Elsewhere it is a fresh tensor (CUDA's caching allocator
    reuses memory already).
    """
    if x.device.type != "cpu":
        return x.to(torch.float64, copy=True)
    return _scratch("float64", x.shape, torch.float64).copy_(x.detach())


def _scratch(name: str, shape, dtype) -> torch.Tensor:
    """This thread's reusable CPU buffer ``name``, viewed as ``shape`` (grown as needed)."""
    n = int(np.prod(shape))
    buf = getattr(_LOCAL, name, None)
    if buf is None or buf.numel() < n:
        with torch.inference_mode(False):  # a normal tensor: usable in and out of the mode
            buf = torch.empty(n, dtype=dtype)
        setattr(_LOCAL, name, buf)
    return buf[:n].view(shape)


def position_hash(pos: torch.Tensor, salt: int) -> torch.Tensor:
    """A 32-bit integer hash (as int64 in ``[0, 2**32)``) of stream positions ``pos``."""
    x = pos.long()
    x = (x ^ (x >> 32) ^ ((salt * 0x9E3779B9) & _MASK)) & _MASK
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK
    return (x >> 16) ^ x


def uniform(pos: torch.Tensor, salt: int) -> torch.Tensor:
    """A float64 in ``[0, 1)`` per position, fixed by the position and ``salt``."""
    return position_hash(pos, salt).double() / 2.0 ** 32


def held_out(pos: torch.Tensor, seed: int, fraction: float) -> torch.Tensor:
    """Whether each stream position belongs to the held-out split (a ``fraction`` of them)."""
    return uniform(pos, seed) < fraction


class Reservoir:
    """A uniform sample of at most ``size`` rows of a stream (Vitter's algorithm R, batched).

    Row ``i`` of the stream (its ``i``-th call-order row) replaces slot ``floor(u·(i+1))`` when
    that is below ``size``, with ``u`` a hash of the row's stream position; when rows of one
    batch pick the same slot the later one wins, as in the sequential algorithm. The buffers
    grow (doubling; on the CPU, whose untouched pages take no memory, at once) as rows
    arrive, so a short stream holds only what it saw.
    """

    def __init__(self, size: int, shapes: list[tuple[tuple[int, ...], torch.dtype]], device,
                 salt: int):
        self.size, self.salt, self.seen = size, salt, 0
        self.buffers = [torch.zeros((0, *shape), dtype=dtype, device=device)
                        for shape, dtype in shapes]

    def _reserve(self, n: int) -> None:
        have = self.buffers[0].shape[0]
        if n > have:  # rows past ``seen`` are never read: the new ones need no zeros
            # on the CPU pages cost memory only once written: take every row at once, with
            # no copies as the sample fills; elsewhere double
            cpu = self.buffers[0].device.type == "cpu"
            rows = self.size if cpu else min(self.size, max(n, 2 * have))
            grown = [b.new_empty((rows, *b.shape[1:])) for b in self.buffers]
            for new, old in zip(grown, self.buffers):
                new[:have] = old
            self.buffers = grown

    def add(self, pos: torch.Tensor, *rows: torch.Tensor) -> None:
        m = pos.shape[0]
        if m == 0:
            return
        self._reserve(min(self.size, self.seen + m))
        i = torch.arange(self.seen, self.seen + m, device=pos.device)
        slot = torch.where(i < self.size, i, (uniform(pos, self.salt) * (i + 1)).long())
        keep = slot < self.size
        winner = torch.full((min(self.size, self.seen + m),), -1, dtype=torch.long,
                            device=pos.device)  # every slot is below seen + m
        winner.scatter_reduce_(0, slot[keep], torch.arange(m, device=pos.device)[keep], "amax")
        slots = (winner >= 0).nonzero().squeeze(1)
        for buf, r in zip(self.buffers, rows):
            buf[slots] = r[winner[slots]].to(buf.dtype)
        self.seen += m

    def rows(self) -> list[torch.Tensor]:
        """The filled rows of each buffer."""
        return [b[:min(self.seen, self.size)] for b in self.buffers]

    def state_dict(self) -> dict:
        return {"seen": self.seen, "buffers": self.rows()}

    def load_state_dict(self, state: dict) -> None:
        self.seen = int(state["seen"])
        self.buffers = [b.clone().to(old.device) for b, old in zip(state["buffers"], self.buffers)]

    def empty(self) -> "Reservoir":
        """A reservoir of the same size, rows and salt that has seen nothing."""
        return Reservoir(self.size, [(b.shape[1:], b.dtype) for b in self.buffers],
                         self.buffers[0].device, self.salt)

    def merge(self, other: "Reservoir") -> None:
        """Become a uniform sample of both streams (weighted reservoir merge): a uniform
        ``size``-sample of the union holds a hypergeometric number ``m`` of this stream's rows
        (``seen`` and ``other.seen`` rows, ``size`` drawn), so keep ``m`` of this sample's rows
        and ``size - m`` of the other's, each a uniform subset; draws are seeded by the salt
        and both counts (past 10**9 rows the hypergeometric is drawn as its binomial limit).
        Algorithm R then goes on from the merged sample."""
        if other.seen == 0:
            return
        mine, theirs = self.rows(), other.rows()
        total = self.seen + other.seen
        keep = min(self.size, total)
        rng = np.random.default_rng([self.salt, self.seen, other.seen])
        if max(self.seen, other.seen) < 10**9:  # numpy's limit for the hypergeometric
            m = int(rng.hypergeometric(self.seen, other.seen, keep))
        else:  # both samples full: the binomial, from a population of over 10**9 rows
            m = int(rng.binomial(keep, self.seen / total))
        pick_a = torch.from_numpy(rng.permutation(mine[0].shape[0])[:m])
        pick_b = torch.from_numpy(rng.permutation(theirs[0].shape[0])[:keep - m])
        dev = self.buffers[0].device
        self.buffers = [torch.cat([a.index_select(0, pick_a.to(a.device)),
                                   b.index_select(0, pick_b.to(b.device)).to(dev)])
                        for a, b in zip(mine, theirs)]
        self.seen = total

    def to(self, device) -> "Reservoir":
        self.buffers = [b.to(device) for b in self.buffers]
        return self


class BatchSums:
    """Sums and sums of squares, over the calls of :meth:`add`, of a per-call statistic
    (a tensor), in float64: the per-batch sums that a test robust to dependence within records
    needs (:mod:`hyplib.significance`). Each call holds whole records (the engine's batches
    do), so the statistic's values from different calls are independent even where the
    symbols of one record are not."""

    KEYS = ("total", "squares")

    def __init__(self, shape: tuple[int, ...], device):
        self.batches = 0
        self.total = torch.zeros(shape, dtype=torch.float64, device=device)
        self.squares = torch.zeros_like(self.total)

    def add(self, value: torch.Tensor) -> None:
        value = value.double()
        self.total += value
        self.squares += value * value
        self.batches += 1

    def se(self) -> tuple[torch.Tensor, int]:
        """The standard error of ``total`` estimated from the spread of the per-batch values,
        ``sqrt(batches · their variance)``, and its degrees of freedom (batches - 1); NaN with
        fewer than 2 batches. ``total / se`` is the one-sample t statistic against mean 0."""
        g = self.batches
        if g < 2:
            return torch.full_like(self.total, torch.nan), 0
        mean = self.total / g
        var = ((self.squares - g * mean * mean) / (g - 1)).clamp(min=0)
        return (g * var).sqrt(), g - 1

    def state_dict(self) -> dict:
        return {"batches": self.batches, "total": self.total, "squares": self.squares}

    def load_state_dict(self, state: dict) -> None:
        self.batches = int(state["batches"])
        for k in self.KEYS:
            setattr(self, k, state[k].clone().to(getattr(self, k).device))

    def merge(self, other: "BatchSums") -> None:
        self.batches += other.batches
        for k in self.KEYS:
            getattr(self, k).add_(getattr(other, k).to(getattr(self, k).device))

    def empty(self) -> "BatchSums":
        return BatchSums(tuple(self.total.shape), self.total.device)

    def to(self, device) -> "BatchSums":
        for k in self.KEYS:
            setattr(self, k, getattr(self, k).to(device))
        return self


class WithBatchSums:
    """Mixin for a histogram inspector that also keeps per-batch sums in ``self.batch``
    (a :class:`BatchSums`): forks start it empty; merges, moves and states carry it."""

    def fork(self, offset: int = 0):
        new = super().fork(offset)
        new.batch = self.batch.empty()
        return new

    def merge(self, other) -> None:
        super().merge(other)
        self.batch.merge(other.batch)

    def to(self, device):
        self.batch.to(device)
        return super().to(device)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "batch": self.batch.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.batch = self.batch.empty()
        if state.get("batch") is not None:
            self.batch.load_state_dict(state["batch"])


class CoMoments:
    """Running means and centred co-moments of ``x`` and ``y``, in float64.

    ``xx`` holds all pairs of ``x`` columns, or with ``pairs=False`` only each column's own;
    ``yy`` each ``y`` column's own. Batches merge with Chan et al.'s pairwise update. The
    correlation, point-biserial and selectivity inspectors keep one (``pairs=False``); the
    linear probe two. With ``batches=True``, ``batch`` (:class:`BatchSums`) also sums each
    batch's own centred co-moment ``xy`` and its square.
    """

    KEYS = ("mean_x", "mean_y", "xx", "xy", "yy")

    def __init__(self, n_x: int, n_y: int, device, pairs: bool = True, batches: bool = False):
        kw = {"dtype": torch.float64, "device": device}
        self.n, self.pairs = 0, pairs
        self.batch = BatchSums((n_x, n_y), device) if batches else None
        self.mean_x, self.mean_y = torch.zeros(n_x, **kw), torch.zeros(n_y, **kw)
        self.xx = torch.zeros((n_x, n_x) if pairs else (n_x,), **kw)
        self.xy = torch.zeros(n_x, n_y, **kw)
        self.yy = torch.zeros(n_y, **kw)

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        y = y.double()
        my = y.mean(0)
        dy = y - my
        if self.pairs:
            dx = float64_copy(x)
            mx = dx.mean(0)
            dx.sub_(mx)
            xx, xy = dx.T @ dx, dx.T @ dy
        else:
            mx, xx, xy = _shifted_moments(x, dy, self.mean_x if self.n else None)
        n = self.n + nb
        ex, ey, w = mx - self.mean_x, my - self.mean_y, self.n * nb / n
        if self.batch is not None:
            self.batch.add(xy)
        self.xy += xy + torch.outer(ex, ey) * w
        self.xx += xx + (torch.outer(ex, ex) if self.pairs else ex * ex) * w
        self.yy += (dy * dy).sum(0) + ey * ey * w
        self.mean_x += ex * (nb / n)
        self.mean_y += ey * (nb / n)
        self.n = n

    def state_dict(self) -> dict:
        """``n`` and the moments (``None`` while ``n`` is 0: an empty fork ships nothing)."""
        state = {"n": self.n, **{k: getattr(self, k) if self.n else None for k in self.KEYS}}
        if self.batch is not None:
            state["batch"] = self.batch.state_dict() if self.n else None
        return state

    def load_state_dict(self, state: dict) -> None:
        self.n = int(state["n"])
        for k in self.KEYS:
            mine = getattr(self, k)
            setattr(self, k, mine.new_zeros(mine.shape) if state[k] is None else
                    state[k].clone().to(mine.device))
        if self.batch is not None:
            saved = state.get("batch")
            self.batch = self.batch.empty()
            if saved is not None:
                self.batch.load_state_dict(saved)

    def merge(self, other: "CoMoments") -> None:
        """Add ``other``'s rows (Chan et al.'s pairwise update, as :meth:`add` does per batch)."""
        if other.n == 0:
            return
        if self.batch is not None and other.batch is not None:
            self.batch.merge(other.batch)
        n = self.n + other.n
        dev = self.mean_x.device
        mx, my, oxx, oxy, oyy = (getattr(other, k).to(dev) for k in self.KEYS)
        ex, ey, w = mx - self.mean_x, my - self.mean_y, self.n * other.n / n
        self.xy += oxy + torch.outer(ex, ey) * w
        self.xx += oxx + (torch.outer(ex, ex) if self.pairs else ex * ex) * w
        self.yy += oyy + ey * ey * w
        self.mean_x += ex * (other.n / n)
        self.mean_y += ey * (other.n / n)
        self.n = n

    def empty(self) -> "CoMoments":
        return CoMoments(len(self.mean_x), len(self.mean_y), self.mean_x.device, self.pairs,
                         self.batch is not None)

    def to(self, device) -> "CoMoments":
        for k in self.KEYS:
            setattr(self, k, getattr(self, k).to(device))
        if self.batch is not None:
            self.batch.to(device)
        return self


def _shifted_moments(x: torch.Tensor, dy: torch.Tensor, shift: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch's mean of ``x``, each column's centred sum of squares and the co-moments with
    the centred ``dy``, in float64, from float32 arithmetic on ``x - shift``: ``shift`` (the
    running mean, else the mean of the batch's first block) is near the mean, so the shifted
    sums lose no precision to cancellation. Each block of ``_ROWS`` rows gets one float32
    product, all blocks in one batched product, giving the co-moments and the sums (``dy``
    sums to zero, so ``Σ (x - shift) dy`` is already centred); the blocks' results add in
    float64, so rounding grows with the block, not the batch."""
    nb, units = x.shape
    c = (x[:_ROWS].double().mean(0) if shift is None else shift).to(torch.float32)
    blocks = -(-nb // _ROWS)
    rows = blocks * _ROWS  # the last block padded with zero rows, which add nothing
    cpu = x.device.type == "cpu"
    dx = _scratch("float32", (rows, units), torch.float32) if cpu else x.new_empty(rows, units)
    torch.sub(x, c, out=dx[:nb])
    dx[nb:] = 0
    lhs = dy.new_zeros(rows, dy.shape[1] + 1, dtype=torch.float32)
    lhs[:nb, :-1] = dy
    lhs[:nb, -1] = 1
    d3 = dx.view(blocks, _ROWS, units)
    sums = torch.bmm(lhs.view(blocks, _ROWS, -1).transpose(1, 2), d3).double().sum(0)
    if cpu:  # numpy's row-wise dot is ~5× faster than torch's reduction over rows here
        d = d3.numpy()
        sq = torch.from_numpy(np.einsum("bij,bij->bj", d, d)).double().sum(0)
    else:
        sq = d3.square().sum(1).double().sum(0)
    s1 = sums[-1]
    return c.double() + s1 / nb, sq - s1 * s1 / nb, sums[:-1].T
