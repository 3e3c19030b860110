"""Cumulative scalar-mix probes (Tenney, Das & Pavlick 2019): where in a layer stack a task is
resolved.

For each layer ℓ a probe reads a learned scalar mix of layers 0..ℓ (softmax weights s_j and a
scale γ over the layers' standardised states, then a linear read-out: softmax regression for a
categorical task, least squares for a continuous one); its held-out score P(ℓ) is the
*cumulative* score, Δ(ℓ) = P(ℓ) − P(ℓ − 1) what layer ℓ adds, and the *expected layer*
E_Δ[ℓ] = Σ ℓ·Δ(ℓ) / Σ Δ(ℓ). The *centre of gravity* Σ j·s_j is read from the mix of the probe
over all layers. Intervals come from a bootstrap over held-out sentences, every layer's score
on the same resample.

Every word's state at every layer is held in memory (words × layers × units, float32): meant
for a few thousand words, as the paper's probes are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from hyplib import record, symbol_spans
from hyplib.study import resampled_sums

MINIBATCH = 256
EPOCHS = (8, 3)  # Adam epochs: the first layer's probe, then each next (it starts from the last)
LR = 0.01  # the read-out's; the mix's logits and scale move ten times faster
L2 = 1e-3  # on the read-out's weights (mean loss): a few thousand words, 576 units
HOLDOUT = 0.2  # a seeded share of the sentences
ENTRY = 1.0  # a new layer's mixing logit starts this far below the others' mean


def word_states(model, data, layers, batch_size: int = 8, device: str = "cpu"):
    """``(states, sentence)``: each word's state at every layer (words × layers × units,
    float32, the state of the last model position overlapping the word) and its sentence's
    index; words that no position covers are left out (``covered``, a mask over all words in
    record order, is returned third)."""
    dev = torch.device(device)
    model.to(dev)
    states, sentence, covered = [], [], []
    for lo in range(0, len(data), batch_size):
        batch = data[lo:lo + batch_size]
        enc = model.encode(batch[model.field])
        with torch.inference_mode(), record(model.module, list(layers), model.name) as seen:
            model.forward(enc, dev)
        stack = torch.stack([seen[layer].float() for layer in layers], 2).cpu().numpy()
        for i, words in enumerate(symbol_spans(batch, "word")):
            spans = enc.spans[i]
            real = np.flatnonzero(spans[:, 0] >= 0)  # positions with a character span
            starts, ends = spans[real, 0], spans[real, 1]
            last = np.searchsorted(starts, words[:, 1], side="left") - 1
            ok = (last >= 0) & (ends[np.maximum(last, 0)] > words[:, 0])
            states.append(stack[i, real[last[ok]]])
            sentence.append(np.full(int(ok.sum()), lo + i))
            covered.append(ok)
    return np.concatenate(states), np.concatenate(sentence), np.concatenate(covered)


@dataclass
class Cumulative:
    """One task's cumulative probes: per held-out sentence and layer, the sums a score needs
    (``hits`` and ``count`` for accuracy; ``sse`` and ``sst`` for R²), and the mix weights of
    the probe over all layers."""

    kind: str
    sums: np.ndarray  # held-out sentences × (layers + 1): the layers' numerators, then the base
    weights: np.ndarray
    depths: np.ndarray  # each layer's depth in the stack (0, 1, 2, ... when all are probed)

    def scores(self, sums: np.ndarray | None = None) -> np.ndarray:
        """P(ℓ) per layer (per resample when ``sums`` is draws × columns)."""
        s = self.sums.sum(0) if sums is None else sums
        top, base = s[..., :-1], s[..., -1:]
        return top / base if self.kind == "categorical" else 1 - top / base

    def expected_layer(self, draws: int = 2000, seed: int = 0) -> tuple[float, np.ndarray]:
        """E_Δ[ℓ] and its value on ``draws`` resamples of the held-out sentences."""
        return (float(expected_layers(self.scores()[None], self.depths)[0]),
                expected_layers(self.scores(resampled_sums(self.sums, draws, seed)),
                                self.depths))

    @property
    def centre_of_gravity(self) -> float:
        """Σ depth_j·s_j over the mixing weights of the probe over all layers."""
        return float((self.depths * self.weights).sum())


def expected_layers(scores: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """E_Δ[ℓ] = Σ ℓ·Δ(ℓ) / Σ Δ(ℓ) of each row of cumulative ``scores`` (rows × layers, at
    ``depths``), Δ(ℓ) the gain of layer ℓ's score over the layer before; NaN where the layers
    add nothing in total."""
    gain = np.diff(scores, axis=1)
    total = gain.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (gain * depths[1:]).sum(1) / total, np.nan)


def cumulative_probes(states: np.ndarray, sentence: np.ndarray, target: np.ndarray, kind: str,
                      n_classes: int = 0, seed: int = 0,
                      depths: np.ndarray | None = None) -> Cumulative:
    """Train the cumulative scalar-mix probes of one task on the training sentences' words and
    score them on the held-out sentences' (``target``: a class index per word, or a number;
    ``depths``: the layers' depths in the stack, by default 0, 1, 2, ...)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ids = np.unique(sentence)
    test_ids = np.random.default_rng(seed).permutation(ids)[:max(1, round(HOLDOUT * len(ids)))]
    test = np.isin(sentence, test_ids)
    x = torch.from_numpy(states)
    mean, sd = x[~test].mean(0), x[~test].std(0).clamp_min(1e-6)
    z_train, z_test = (x[~test] - mean) / sd, (x[test] - mean) / sd
    del x
    y = torch.from_numpy(target)
    categorical = kind == "categorical"
    if categorical:
        y = y.long()
    else:  # least squares on the standardised target
        y = y.float()
        y = (y - y[~test].mean()) / y[~test].std().clamp_min(1e-6)
    n_layers, units = z_train.shape[1:]
    out = n_classes if categorical else 1
    train, held = torch.from_numpy(~test), torch.from_numpy(test)
    y_train, y_test = y[train], y[held]
    logits_w = torch.zeros(1, requires_grad=True)
    scale = torch.ones(1, requires_grad=True)
    lin = torch.nn.Linear(units, out)
    columns = []
    for layer in range(n_layers):
        if layer:  # one more layer in the mix, entering with a small weight (Adam moves it
            # as fast as any): the probe starts where the previous layer's ended
            start = logits_w.detach().mean(0, keepdim=True) - ENTRY
            logits_w = torch.cat([logits_w.detach(), start])
            logits_w.requires_grad_(True)
        opt = torch.optim.Adam([{"params": [logits_w, scale], "lr": 10 * LR},
                                {"params": list(lin.parameters())}], lr=LR)
        for _ in range(EPOCHS[bool(layer)]):
            for batch in torch.randperm(len(y_train), generator=gen).split(MINIBATCH):
                opt.zero_grad()
                pred = _predict(z_train[batch, :layer + 1], logits_w, scale, lin)
                loss = (F.cross_entropy(pred, y_train[batch]) if categorical
                        else F.mse_loss(pred[:, 0], y_train[batch]))
                (loss + L2 * lin.weight.square().sum()).backward()
                opt.step()
        with torch.no_grad():
            pred = _predict(z_test[:, :layer + 1], logits_w, scale, lin)
            columns.append((pred.argmax(1) == y_test).double() if categorical
                           else (pred[:, 0] - y_test).double().square())
    base = (torch.ones(len(y_test), dtype=torch.float64) if categorical
            else (y_test - y_train.mean()).double().square())
    per_word = torch.stack(columns + [base], 1).numpy()
    _, row = np.unique(sentence[test], return_inverse=True)
    sums = np.zeros((row.max() + 1, per_word.shape[1]))
    np.add.at(sums, row, per_word)
    weights = torch.softmax(logits_w.detach(), 0).numpy()
    return Cumulative(kind, sums, weights,
                      np.arange(n_layers) if depths is None else np.asarray(depths))


def _predict(z: torch.Tensor, logits_w: torch.Tensor, scale: torch.Tensor, lin) -> torch.Tensor:
    mix = scale * torch.einsum("nlu,l->nu", z, torch.softmax(logits_w, 0))
    return lin(mix)

