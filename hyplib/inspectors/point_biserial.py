"""Point-biserial correlation of every unit with every binary hypothesis."""
from __future__ import annotations

from ..types import Hypothesis, Scores
from .correlation import Correlation


class PointBiserial(Correlation):
    """r_pb: Pearson's r with a 0/1 label, from :class:`Correlation`'s running co-moments, and
    Fisher's interval ``tanh(atanh(r) ± z / sqrt(n - 3))``. Binary hypotheses only."""

    name = "point_biserial"

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool:
        return hypothesis.kind == "binary"

    def scores(self) -> Scores:
        return super().scores()._replace(metric="r_pb")
