"""Early stopping: is every requested score known to the tolerance?

Each inspector reports an interval per score. With ``tolerance`` alone the engine stops once
every score's interval half-width is at most the tolerance. With ``top_k`` too, only the ``k``
best units per (hypothesis column, metric) must be that precise, and the set must be settled:
the k-th best's lower bound is at least every other unit's upper bound minus the tolerance.

Looking at the intervals after every few batches and stopping when they are narrow would make
the reported intervals too narrow (a stop is likelier where the sample happened to agree with
itself): measured on a planted model, 95% intervals held the full-data score for only 72% of
scores. So every check is a *look* that spends a share of α = 1 - confidence: look ``j``
computes the intervals at ``1 - α/(j(j+1))`` (:func:`hyplib.significance.spent_confidence`),
and the shares sum to α, so by Bonferroni over the looks an interval reported at whichever look
the run stops holds at the inspector's confidence (an alpha-spending schedule; looks are
geometrically spaced, 1.25× apart, so the j-th look is at about 1.25^j times the first one's
sample and the price grows like ``sqrt(log log n)``, as for confidence sequences). The run's
p-values are divided by the same share.
Intervals assume independent symbols; symbols of one record are not, so treat them as
optimistic and prefer a tolerance well below the differences that matter (the p-values do not
assume it: :mod:`hyplib.significance`).
"""
from __future__ import annotations

import torch

from .errors import HyplibError
from .significance import spent_confidence
from .types import Scores


def _key_bounds(s: Scores, by_abs: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ranking key and its interval, NaN scores last."""
    score, low, high = s.score.double(), s.low.double(), s.high.double()
    if by_abs:
        key = score.abs()
        low, high = (torch.where(low > 0, low, torch.where(high < 0, -high, 0.0)),
                     torch.maximum(low.abs(), high.abs()))
    else:
        key = score
    nan = torch.isnan(key)
    return key.masked_fill(nan, -torch.inf), low.masked_fill(nan, -torch.inf), high.masked_fill(nan, -torch.inf)


def settled(s: Scores, tolerance: float, top_k: int | None = None, by_abs: bool = False) -> bool:
    """Whether the scores of one metric are known to ``tolerance`` (see the module doc)."""
    half = ((s.high - s.low) / 2).double().nan_to_num(nan=0.0)
    if top_k is None or s.groups is not None or s.score.shape[0] <= top_k:
        return bool((half <= tolerance).all())
    key, low, high = _key_bounds(s, by_abs)
    order = key.argsort(dim=0, descending=True)
    top, rest = order[:top_k], order[top_k:]
    if (half.gather(0, top) > tolerance).any():
        return False
    kth_low = low.gather(0, top).min(dim=0).values
    best_rest = high.gather(0, rest).max(dim=0).values
    return bool((kth_low >= best_rest - tolerance).all())


def spend_alpha(state: dict, nominal: dict, look: int) -> int:
    """Set every inspector's ``confidence`` to its share at ``look`` (``nominal`` keeps each
    one's own confidence across looks); returns ``look``."""
    for key, inspector in state.items():
        if not hasattr(inspector, "confidence"):
            raise HyplibError(f"inspector {key[3]!r} has no 'confidence' attribute, so early "
                              f"stopping cannot keep its intervals valid: drop the tolerance "
                              f"or give the inspector a confidence its scores() follow")
        nominal.setdefault(key, inspector.confidence)
        inspector.confidence = spent_confidence(nominal[key], look)
    return look
