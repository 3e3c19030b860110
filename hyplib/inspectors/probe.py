"""The classification probe: a linear read-out of a hypothesis from all units of a layer,
scored on held-out symbols (the regression probe is :mod:`.linear_probe`).

Both probes split the stream the same way: a symbol is held out when a seeded hash of its
position in the stream falls below ``holdout`` (so the split does not depend on batching), and
held-out symbols are never trained on. Units are standardised with the running mean and
variance of the training symbols, so the regularisation and the weights used for neuron ranking
(:mod:`.ranking`) do not depend on a unit's scale.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from ..types import Hypothesis, LabelColumn, Scores
from .correlation import _normal_quantile
from .ranking import random_units, rank_units
from .streaming import CoMoments, Reservoir, held_out, uniform

JACKKNIFE_GROUPS = 20
ROWS_PER_UNIT = 96  # default training reservoir: this many symbols per unit (at least 20,000)
RESERVOIR_BYTES = 1 << 29  # ... in at most 512 MiB of float32 rows
FIT_STEPS = 1600  # default final fit: about this many minibatch steps


class _Heads:
    """Softmax heads, one per block (hypothesis), classes padded to one width (``valid``).

    Each block minimises mean cross-entropy + ``l1``·Σ|W| + ``l2``·ΣW² (bias unpenalised) with
    Adam; gradients are written out, not traced, so training also runs under inference mode.
    With ``idx`` (blocks × k) each block reads only its own ``k`` units.
    """

    def __init__(self, n_units: int, valid: torch.Tensor, idx: torch.Tensor | None = None):
        blocks, width = valid.shape
        shape = (n_units, blocks, width) if idx is None else (blocks, idx.shape[1], width)
        self.w = torch.zeros(shape, device=valid.device)
        self.b = torch.zeros(blocks, width, device=valid.device)
        self.valid, self.idx = valid, idx
        self.padded = not bool(valid.all())  # some block has fewer classes than the width
        self.reset_optimiser()

    def reset_optimiser(self) -> None:
        self.m = [torch.zeros_like(self.w), torch.zeros_like(self.b)]
        self.v = [torch.zeros_like(self.w), torch.zeros_like(self.b)]
        self.t = 0

    @property
    def t(self) -> int:
        """Adam's step count (kept per parameter as tensors, as its fused kernel wants)."""
        return int(self._steps[0])

    @t.setter
    def t(self, value: int) -> None:
        self._steps = [torch.full((), float(value), device=self.w.device) for _ in range(2)]

    def logits(self, xs: torch.Tensor) -> torch.Tensor:
        """symbols × blocks × classes (a view of :meth:`_logits_t`)."""
        return self._logits_t(xs).permute(2, 0, 1)

    def _logits_t(self, xs: torch.Tensor) -> torch.Tensor:
        """blocks × classes × symbols: the products come out in this layout ~3× faster on the
        CPU than ``xs @ w``, and a softmax over classes is ~7× faster on it."""
        if self.idx is None:
            z = (self.w.flatten(1).T @ xs.T).view(*self.b.shape, xs.shape[0])
        else:
            z = torch.bmm(self.w.transpose(1, 2), self._units(xs))
        z = z + self.b[..., None]
        return z.masked_fill_(~self.valid[..., None], -torch.inf) if self.padded else z

    def _units(self, xs: torch.Tensor) -> torch.Tensor:
        """Each block's ``k`` units of ``xs``: blocks × k × symbols (a view)."""
        return xs.index_select(1, self.idx.flatten()).view(xs.shape[0], *self.idx.shape
                                                           ).permute(1, 2, 0)

    def step(self, xs: torch.Tensor, t: torch.Tensor, lr: float, l1: float, l2: float) -> None:
        # the gradient of the mean cross-entropy in the logits: (softmax - one-hot) / n
        g = torch.softmax(self._logits_t(xs), 1)
        minus_one = g.new_full((1, 1, 1), -1.0).expand(t.shape[1], 1, t.shape[0])
        g.scatter_add_(1, t.T.unsqueeze(1), minus_one)
        g /= xs.shape[0]
        if self.idx is None:
            gw = torch.mm(xs.T, g.flatten(0, 1).T).view_as(self.w)
        else:
            gw = torch.bmm(self._units(xs), g.transpose(1, 2))
        gw.add_(self.w.sign(), alpha=l1).add_(self.w, alpha=2 * l2)
        torch._foreach_add_(self._steps, 1)  # Adam (β 0.9, 0.999; ε 1e-8) in one fused kernel
        torch._fused_adam_([self.w, self.b], [gw, g.sum(2)], self.m, self.v, [], self._steps,
                           lr=lr, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                           amsgrad=False, maximize=False)

    def copy(self) -> "_Heads":
        """The same weights, with a fresh optimiser."""
        new = _Heads(self.w.shape[0], self.valid, self.idx)
        new.w, new.b = self.w.clone(), self.b.clone()
        new.reset_optimiser()
        return new

    def average(self, other: "_Heads", weight: float) -> None:
        """Move the weights and the optimiser's moments to ``(1 - weight)·self + weight·other``."""
        for mine, theirs in zip([self.w, self.b, *self.m, *self.v],
                                [other.w, other.b, *other.m, *other.v]):
            mine.lerp_(theirs.to(mine.device), weight)
        self.t = max(self.t, other.t)

    def to(self, device) -> "_Heads":
        self.w, self.b, self.valid = self.w.to(device), self.b.to(device), self.valid.to(device)
        self.idx = None if self.idx is None else self.idx.to(device)
        self.m, self.v = [t.to(device) for t in self.m], [t.to(device) for t in self.v]
        self.t = self.t  # the step counts, on the device
        return self

    def state_dict(self) -> dict:
        return {"w": self.w, "b": self.b, "t": self.t, "m": list(self.m), "v": list(self.v)}

    def load_state_dict(self, state: dict) -> None:
        dev = self.w.device
        self.w, self.b = state["w"].clone().to(dev), state["b"].clone().to(dev)
        self.t = int(state["t"])
        self.m = [m.clone().to(dev) for m in state["m"]]
        self.v = [v.clone().to(dev) for v in state["v"]]


class FittedScores:
    """A probe's scores are fitted when asked for: kept (``_cache``) until the state or the
    intervals' ``confidence`` (which early stopping sets) changes; ``_scores`` fits them."""

    @property
    def z(self) -> float:
        """The normal quantile of the intervals' ``confidence``."""
        return _normal_quantile(self.confidence)

    def scores(self) -> list[Scores]:
        if self._cache is None or self._cache[0] != self.confidence:
            self._cache = (self.confidence, self._scores())
        return self._cache[1]


class Probe(FittedScores):
    """Multinomial logistic probe over all units (group ``"all"``), one per hypothesis.

    All hypotheses' probes train together as one batched model (elastic net: ``l1``, ``l2``,
    NeuroX's defaults, on standardised units). Training symbols update it with one Adam step per
    ``minibatch`` as they stream past, and a seeded reservoir keeps ``train_size`` of them;
    ``scores()`` finishes the fit with ``epochs`` epochs over that reservoir (seeded shuffles,
    learning rate decaying linearly from ``lr`` to 0), starting from the streamed weights.
    A probe has ``units × classes`` weights, so by default the reservoir grows with the units:
    ``ROWS_PER_UNIT`` (96) symbols per unit, at least 20,000 and at most 512 MiB of rows (with
    fewer symbols per weight the fit overfits: on the benchmark's 1,024 units a 20,000-symbol
    reservoir loses 5 points of held-out accuracy), and ``epochs`` is what makes about
    ``FIT_STEPS`` (1,600) minibatch steps over the filled reservoir (3 to 40 epochs). A
    second reservoir keeps ``test_size`` held-out symbols for evaluation. The result is cached
    until the next ``update``.

    Metrics per hypothesis, on held-out symbols: ``accuracy`` (Wilson interval), ``macro_f1``
    (delete-a-group jackknife over 20 groups of held-out symbols, normal interval; classes that
    are neither true nor predicted are left out, as sklearn does), ``balanced_accuracy`` (the
    mean recall over the classes that occur, jackknife alike: chance level whatever the class
    frequencies and however often a probe predicts each), ``majority`` (accuracy of the
    training set's most frequent class, Wilson). Per unit: ``weight`` (share of the hypothesis's
    |weight|), ``rank`` and ``selected`` (in NeuroX's top set at weight mass ``mass``), see
    :mod:`.ranking`. ``accuracy_top{k}`` / ``accuracy_random{k}``: probes retrained from scratch
    on the reservoir over only the ``k`` best-ranked / ``k`` seeded random units.
    ``masked_top{k}`` / ``masked_random{k}`` / ``masked_bottom{k}``: Dalvi et al.'s classifier
    masking, the accuracy of the probe trained on all units with every weight zeroed but those
    of the ``k`` best-ranked / the same random / the ``k`` worst-ranked units (a zeroed unit
    reads as its training mean), not retrained. For each
    hypothesis ``h`` whose control task ``control:h`` (:func:`hyplib.control.control_task`) is also
    probed: ``selectivity`` = accuracy(h) − accuracy(control:h), jackknife interval (the two
    share their held-out symbols, so the interval accounts for their correlation).

    With ``permutations=B`` the accuracy gets a permutation p-value (:meth:`p_values`) for the
    null "the units say nothing of the label": each batch's labels are also kept circularly
    shifted by B seeded offsets (so each copy keeps the labels' runs within records and loses
    their alignment with the units), and the final fit trains, as one batched model, a fresh
    probe on the true labels and one on each shifted copy; p = (1 + #copies whose held-out
    accuracy reaches the true labels') / (B + 1). It costs about B + 1 times the final fit.
    The copies' label runs straddle the records' ends where the true ones restart, so where
    units and labels persist within records these p-values are somewhat optimistic.
    """

    name = "probe"
    rank_by_abs = False

    def __init__(self, n_units: int, columns, device, *, l1: float = 1e-5, l2: float = 1e-5,
                 lr: float = 0.03, minibatch: int = 256, epochs: int | None = None,
                 holdout: float = 0.2, train_size: int | None = None, test_size: int = 10_000,
                 k: int = 10, mass: float = 0.5, confidence: float = 0.95, seed: int = 0,
                 permutations: int = 0):
        self.columns = list(columns)
        self.hyps = list(dict.fromkeys(c.hypothesis for c in self.columns))
        wrong = [h.name for h in self.hyps if not self.accepts(h)]
        if wrong or not self.hyps:
            raise ValueError(f"the probe takes binary or categorical hypotheses, not {wrong} "
                             f"(continuous ones go to linear_probe)")
        self.device = torch.device(device)
        self.n_units, self.k = n_units, min(k, n_units)
        self.l1, self.l2, self.lr, self.minibatch, self.epochs = l1, l2, lr, minibatch, epochs
        self.holdout, self.mass, self.seed = holdout, mass, seed
        if not (isinstance(permutations, int) and permutations >= 0):
            raise ValueError(f"permutations must be a whole number >= 0, e.g. 99, not "
                             f"{permutations!r}")
        self.permutations, self._p = permutations, None
        self.confidence = confidence
        widths = torch.tensor([len(h.classes) if h.kind == "categorical" else 2
                               for h in self.hyps])
        self.valid = (torch.arange(int(widths.max())) < widths[:, None]).to(self.device)
        block = {h: i for i, h in enumerate(self.hyps)}
        code = torch.zeros(len(self.columns), len(self.hyps))
        for j, c in enumerate(self.columns):
            code[j, block[c.hypothesis]] = 1 if c.class_index is None else c.class_index
        self.code = code.to(self.device)
        names = {h.name: i for i, h in enumerate(self.hyps)}
        self.pairs = [(i, names[f"control:{h.name}"]) for i, h in enumerate(self.hyps)
                      if f"control:{h.name}" in names]
        self.seen = 0
        self.moments = CoMoments(n_units, 0, self.device, pairs=False)
        self.counts = torch.zeros(self.valid.shape, dtype=torch.float64, device=self.device)
        self.heads = _Heads(n_units, self.valid)
        shapes = [((n_units,), torch.float32), ((len(self.hyps),), torch.long)]
        if permutations:  # the shifted copies' labels
            shapes.append(((permutations, len(self.hyps)), torch.int16))
        if train_size is None:
            train_size = min(max(20_000, ROWS_PER_UNIT * n_units),
                             RESERVOIR_BYTES // (4 * max(n_units, 1)))
        self.train = Reservoir(train_size, shapes, self.device, salt=seed + 1)
        self.test = Reservoir(test_size, shapes, self.device, salt=seed + 2)
        self._cache = None

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return hypothesis.kind in ("binary", "categorical")

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        self._cache = None
        pos = torch.arange(self.seen, self.seen + nb, device=x.device)
        self.seen += nb
        t = (y @ self.code).round().long()
        rows = [t] if not self.permutations else [t, self._shifted(t, pos)]
        test = held_out(pos, self.seed, self.holdout)
        out, keep = test.nonzero().squeeze(1), (~test).nonzero().squeeze(1)
        self.test.add(pos[out], x.index_select(0, out), *(r.index_select(0, out) for r in rows))
        x, t, pos = x.index_select(0, keep), t.index_select(0, keep), pos[keep]
        self.train.add(pos, x, *(r.index_select(0, keep) for r in rows))
        self.moments.add(x, x[:, :0])
        self.counts += F.one_hot(t, self.valid.shape[1]).sum(0)
        xs = self._standardise(x.float())
        for i in range(0, xs.shape[0], self.minibatch):
            self.heads.step(xs[i:i + self.minibatch], t[i:i + self.minibatch], self.lr,
                            self.l1, self.l2)

    def _shifted(self, t: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The batch's labels ``t`` circularly shifted by ``permutations`` offsets, seeded by
        the batch's first stream position: symbols × copies × hypotheses."""
        nb = t.shape[0]
        first = pos[:1] + torch.arange(self.permutations, device=pos.device)
        shift = (uniform(first, self.seed + 3) * nb).long()
        rows = (torch.arange(nb, device=t.device)[:, None] + shift) % nb
        return t.to(torch.int16)[rows]

    def _scale(self, cols: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The training symbols' mean and 1 / standard deviation of each unit (of ``cols``),
        from the float64 moments, in float32 (as the units' values are); 1 where sd is 0."""
        m = self.moments
        sd = (m.xx / max(m.n, 1)).sqrt()
        mean, inv = m.mean_x.float(), torch.where(sd > 0, 1 / sd, 1.0).float()
        return (mean, inv) if cols is None else (mean[cols], inv[cols])

    def _standardise(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / sd`` (:meth:`_scale`) into a new tensor."""
        mean, inv = self._scale()
        return torch.sub(x, mean).mul_(inv)

    def _fit(self, heads: _Heads, xs: torch.Tensor, t: torch.Tensor,
             cols: torch.Tensor | None = None) -> _Heads:
        """Fit ``heads`` to the rows ``xs`` (of the units ``cols``), each minibatch
        standardised as it is drawn (no standardised copy of the reservoir is made)."""
        gen = torch.Generator().manual_seed(self.seed)  # on the CPU: the same on every device
        n = xs.shape[0]
        epochs = self.fit_epochs(n)
        steps, s = epochs * math.ceil(n / self.minibatch), 0
        mean, inv = self._scale(cols)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen).to(self.device, non_blocking=True)
            for i in range(0, n, self.minibatch):
                sel = perm[i:i + self.minibatch]  # index_select: ~2× faster than xs[sel]
                heads.step(xs.index_select(0, sel).sub_(mean).mul_(inv),
                           t.index_select(0, sel).long(), self.lr * (1 - s / steps), self.l1,
                           self.l2)
                s += 1
        return heads

    def fit_epochs(self, n: int) -> int:
        """The final fit's epochs over ``n`` reservoir symbols: ``epochs``, or by default
        about ``FIT_STEPS`` minibatch steps (3 to 40 epochs)."""
        if self.epochs is not None:
            return self.epochs
        return min(40, max(3, round(FIT_STEPS * self.minibatch / max(n, 1))))

    def _scores(self) -> list[Scores]:
        (xtr, ttr, *ptr), (xte, tte, *pte) = self.train.rows(), self.test.rows()
        xte = self._standardise(xte)  # the training rows are standardised as drawn
        n_hyp, n_test = len(self.hyps), xte.shape[0]
        if self.permutations:
            self._p = self._permutation_p(xtr, torch.cat([ttr[:, None].to(torch.int16), *ptr], 1),
                                          xte, torch.cat([tte[:, None].to(torch.int16), *pte], 1))
        full = self._fit(self.heads.copy(), xtr, ttr)
        rank = rank_units(full.w, self.valid, self.mass)
        idx = torch.cat([rank.order[:self.k].T,
                         random_units(self.n_units, n_hyp, self.k, self.seed, self.device)])
        twice = torch.arange(n_hyp, device=self.device).repeat(2)
        # the k-unit probes read only their units: fit them on those columns alone
        cols, local = torch.unique(idx, return_inverse=True)
        sub = self._fit(_Heads(len(cols), self.valid[twice], local), xtr[:, cols],
                        ttr[:, twice], cols)
        pred = full.logits(xte).argmax(-1)
        correct = (pred == tte).double()
        sub_acc = (sub.logits(xte[:, cols]).argmax(-1) == tte[:, twice]).double().sum(0)
        majority = (tte == self.counts.argmax(1)).double().sum(0)
        keep = torch.cat([idx, rank.order[-self.k:].T])  # top, random, bottom sets
        masked = _masked(full, keep, self.valid).logits(xte).argmax(-1)
        masked_acc = (masked == tte.repeat(1, 3)).double().sum(0)

        group = torch.arange(n_test, device=self.device) % JACKKNIFE_GROUPS
        conf, conf_loo = self._confusion(group, tte, pred)
        f1, f1_loo = _macro_f1(conf), _macro_f1(conf_loo)
        bal, bal_loo = _balanced_accuracy(conf), _balanced_accuracy(conf_loo)
        hyp_cols = [LabelColumn(h, None, "") for h in self.hyps]
        n = torch.full((1, n_hyp), float(n_test), dtype=torch.float64, device=self.device)
        n_train = torch.full((self.n_units, n_hyp), float(self.moments.n), device=self.device)
        out = [self._wilson("accuracy", correct.sum(0), n, hyp_cols),
               _group("macro_f1", f1, *_jackknife(f1, f1_loo, self.z), n, hyp_cols),
               _group("balanced_accuracy", bal, *_jackknife(bal, bal_loo, self.z), n,
                      hyp_cols),
               self._wilson("majority", majority, n, hyp_cols),
               self._wilson(f"accuracy_top{self.k}", sub_acc[:n_hyp], n, hyp_cols,
                            f"top{self.k}"),
               self._wilson(f"accuracy_random{self.k}", sub_acc[n_hyp:], n, hyp_cols,
                            f"random{self.k}"),
               *(self._wilson(f"masked_{part}{self.k}", masked_acc[i * n_hyp:(i + 1) * n_hyp],
                              n, hyp_cols, f"{part}{self.k}")
                 for i, part in enumerate(("top", "random", "bottom"))),
               Scores(rank.share, rank.share, rank.share, n_train, "weight", None, hyp_cols),
               *(Scores(v.double(), v.double(), v.double(), n_train, metric, None, hyp_cols)
                 for metric, v in (("rank", rank.rank), ("selected", rank.selected)))]
        if self.pairs:
            out.append(self._selectivity(group, correct, hyp_cols))
        return out

    def _permutation_p(self, xtr, ttr, xte, tte) -> torch.Tensor:
        """Fresh probes on the true labels and on each shifted copy (labels: symbols × (1 +
        copies) × hypotheses), fitted as one model; the p-value of each true accuracy."""
        copies = ttr.shape[1]
        heads = self._fit(_Heads(self.n_units, self.valid.repeat(copies, 1)), xtr, ttr.flatten(1))
        hits = (heads.logits(xte).argmax(-1) == tte.flatten(1)).sum(0).view(copies, -1)
        return ((1 + (hits[1:] >= hits[0]).sum(0)).double() / copies).view(1, -1)

    def p_values(self, s: Scores) -> torch.Tensor | None:
        """The accuracy's permutation p-value (with ``permutations``); None for other metrics
        (:mod:`hyplib.significance`)."""
        if s.metric != "accuracy" or not self.permutations:
            return None
        self.scores()
        return self._p

    def _wilson(self, metric, hits, n, cols, group="all") -> Scores:
        z2 = self.z ** 2
        p = hits / n
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = self.z * torch.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return _group(metric, p, centre - half, centre + half, n, cols, group)

    def _confusion(self, group, t, pred) -> tuple[torch.Tensor, torch.Tensor]:
        """(true, predicted) counts of all held-out symbols and with each jackknife group left
        out."""
        n_hyp, width = self.valid.shape
        cell = ((group[:, None] * n_hyp + torch.arange(n_hyp, device=self.device)) * width
                + t) * width + pred
        conf = torch.bincount(cell.flatten(), minlength=JACKKNIFE_GROUPS * n_hyp * width ** 2)
        conf = conf.view(JACKKNIFE_GROUPS, n_hyp, width, width).double()
        total = conf.sum(0)
        return total, total - conf

    def _selectivity(self, group, correct, hyp_cols) -> Scores:
        i, j = (torch.tensor(c, device=self.device) for c in zip(*self.pairs))
        n_hyp = len(self.hyps)
        cell = group[:, None] * n_hyp + torch.arange(n_hyp, device=self.device)
        hits = torch.bincount(cell.flatten(), correct.flatten(),
                              JACKKNIFE_GROUPS * n_hyp).view(JACKKNIFE_GROUPS, n_hyp)
        sizes = torch.bincount(group, minlength=JACKKNIFE_GROUPS).double()
        acc = hits.sum(0) / sizes.sum()
        loo = (hits.sum(0) - hits) / (sizes.sum() - sizes)[:, None]
        sel, sel_loo = acc[i] - acc[j], loo[:, i] - loo[:, j]
        n = torch.full((1, len(self.pairs)), sizes.sum().item(), dtype=torch.float64,
                       device=self.device)
        return _group("selectivity", sel, *_jackknife(sel, sel_loo, self.z), n,
                      [hyp_cols[c] for c, _ in self.pairs])

    def state_dict(self) -> dict:
        return {"seen": self.seen, "moments": self.moments.state_dict(), "counts": self.counts,
                "heads": self.heads.state_dict(), "train": self.train.state_dict(),
                "test": self.test.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.seen = int(state["seen"])
        self.moments.load_state_dict(state["moments"])
        self.counts = state["counts"].clone().to(self.device)
        self.heads.load_state_dict(state["heads"])
        self.train.load_state_dict(state["train"])
        self.test.load_state_dict(state["test"])
        self._cache = None

    def fork(self, offset: int) -> Probe:
        """An empty probe for the part of the stream from symbol ``offset`` on: its held-out
        split and samples hash the global positions; it keeps streaming from this probe's
        weights (and optimiser state)."""
        new = copy.copy(self)
        new.seen, new._cache = offset, None
        new.moments, new.counts = self.moments.empty(), torch.zeros_like(self.counts)
        new.heads = _Heads(self.n_units, self.valid)
        new.heads.load_state_dict(self.heads.state_dict())
        new.train, new.test = self.train.empty(), self.test.empty()
        return new

    def merge(self, other: Probe) -> None:
        """Add a later part of the stream: moments and class counts exactly, each reservoir
        by a weighted reservoir merge (still a uniform sample of all training / held-out
        symbols), and the streamed weights averaged in proportion to the training symbols
        each side saw. The final fit in :meth:`scores` runs on the merged reservoir, wherever
        the merged probe is (the Ray engine's driver)."""
        n = self.moments.n + other.moments.n
        if n:
            self.heads.average(other.heads, other.moments.n / n)
        self.seen = max(self.seen, other.seen)
        self.moments.merge(other.moments)
        self.counts += other.counts.to(self.device)
        self.train.merge(other.train)
        self.test.merge(other.test)
        self._cache = None

    def to(self, device) -> Probe:
        self.device = torch.device(device)
        self.valid, self.code = self.valid.to(device), self.code.to(device)
        self.counts = self.counts.to(device)
        for part in (self.moments, self.heads, self.train, self.test):
            part.to(device)
        self._cache = None
        return self


def _masked(full: _Heads, keep: torch.Tensor, valid: torch.Tensor) -> _Heads:
    """``full``'s heads with only the units ``keep`` (sets × k, set ``s`` of hypothesis
    ``s % hypotheses``) weighted: one head per set, every other weight zero."""
    block = torch.arange(keep.shape[0], device=keep.device) % valid.shape[0]
    heads = _Heads(full.w.shape[0], valid[block], keep)
    heads.w, heads.b = full.w[keep, block[:, None]], full.b[block]
    return heads


def _group(metric, est, low, high, n, cols, group="all") -> Scores:
    """A one-row (group) Scores over ``cols``."""
    return Scores(est.reshape(1, -1), low.reshape(1, -1), high.reshape(1, -1), n, metric,
                  [group], cols)


def _macro_f1(conf: torch.Tensor) -> torch.Tensor:
    """Macro-F1 from (..., true, predicted) counts, over the classes that occur in either."""
    tp = conf.diagonal(dim1=-2, dim2=-1)
    denom = conf.sum(-1) + conf.sum(-2)
    present = denom > 0
    f1 = torch.where(present, 2 * tp / denom.clamp_min(1), 0.0)
    return f1.sum(-1) / present.sum(-1)


def _balanced_accuracy(conf: torch.Tensor) -> torch.Tensor:
    """Mean recall from (..., true, predicted) counts, over the classes that occur."""
    support = conf.sum(-1)
    recall = conf.diagonal(dim1=-2, dim2=-1) / support.clamp_min(1)
    return (recall * (support > 0)).sum(-1) / (support > 0).sum(-1)


def _jackknife(est: torch.Tensor, loo: torch.Tensor, z: float):
    """Normal interval from leave-one-group-out estimates ``loo`` (groups × ...)."""
    g = loo.shape[0]
    se = ((g - 1) / g * ((loo - loo.mean(0)) ** 2).sum(0)).sqrt()
    return est - z * se, est + z * se
