"""Neuron ranking from a probe's weights, after Dalvi et al. (2019) / NeuroX ``get_top_neurons``.

For each class of a hypothesis, units sorted by |weight| enter the class's top set in turn; a
unit's *entry* is the share of the class's weight mass held by the units before it. At weight
mass ``p`` NeuroX keeps, per class, the smallest prefix that reaches ``p`` of the mass (the
units whose entry is below ``p``) and takes the union over classes. A unit's entry for the
hypothesis is therefore its smallest entry over the classes, and ordering units by it gives
NeuroX's global ordering at an infinitely fine ``search_stride`` (ties broken by weight share).
"""
from __future__ import annotations

from typing import NamedTuple

import torch


class Ranking(NamedTuple):
    """Per unit × hypothesis: weight share, rank (1 = first), and top-set membership."""

    share: torch.Tensor
    rank: torch.Tensor
    selected: torch.Tensor
    order: torch.Tensor


def rank_units(weight: torch.Tensor, valid: torch.Tensor, mass: float) -> Ranking:
    """Rank units from ``weight`` (units × hypotheses × classes; ``valid`` marks real classes).

    ``share`` is a unit's part of its hypothesis's total |weight|; ``selected`` is membership of
    the NeuroX top set at weight mass ``mass``; ``order[:, h]`` lists units best first.
    """
    a = weight.abs() * valid
    total = a.sum((0, 2))
    share = a.sum(2) / torch.where(total > 0, total, 1.0)
    mag, idx = a.sort(dim=0, descending=True)
    class_mass = mag.sum(0)
    before = (mag.cumsum(0) - mag) / torch.where(class_mass > 0, class_mass, 1.0)
    before = torch.where(class_mass > 0, before, 1.0)
    entry = torch.empty_like(before).scatter_(0, idx, before)
    entry = entry.masked_fill(~valid, torch.inf).amin(2)
    by_share = share.argsort(dim=0, descending=True, stable=True)
    order = by_share.gather(0, entry.gather(0, by_share).argsort(dim=0, stable=True))
    ranks = torch.arange(1, a.shape[0] + 1, device=a.device)[:, None].expand_as(order)
    rank = torch.empty_like(order).scatter_(0, order, ranks)
    return Ranking(share, rank, entry < mass, order)


def random_units(n_units: int, n_sets: int, k: int, seed: int, device) -> torch.Tensor:
    """``n_sets`` seeded random sets of ``k`` distinct units, (n_sets × k), the same on every
    device (drawn on the CPU)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n_sets, n_units, generator=gen).argsort(1)[:, :k].to(device)
