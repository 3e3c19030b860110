"""Conditions and sort keys (KEEP, WHERE, ORDER BY) evaluated on a pandas table, vectorised."""
from __future__ import annotations

import fnmatch
import operator

import pandas as pd

from ..errors import HyplibError
from ..plugins import close_matches
from .statements import Cond, Post

COMPARE = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
           "==": operator.eq, "!=": operator.ne}
FUNCTIONS = {"abs": lambda s: s.abs(), "length": lambda s: s.str.len(),
             "lower": lambda s: s.str.lower(), "upper": lambda s: s.str.upper()}


def columns_of(expr: Cond) -> set[str]:
    """The plain column names a condition reads."""
    if not isinstance(expr, tuple):
        return set()
    if expr[0] == "column":
        return {expr[1]}
    return set().union(*(columns_of(e) for e in expr[1:]))


def evaluate(expr: Cond, frame: pd.DataFrame, what: str = "column"):
    """The value of ``expr`` on every row of ``frame`` (a Series, or a scalar for literals).

    ``what`` names the columns in errors (``"column of the result"``, ``"field of the
    records"``)."""
    kind = expr[0]
    if kind == "literal":
        return expr[1]
    if kind in ("column", "qualified"):
        name = expr[1] if kind == "column" else f"{expr[1]}.{expr[2]}"
        if name not in frame.columns:
            names = [str(c) for c in frame.columns if c != "replicates"]
            near = close_matches(name, names)
            hint = f"did you mean {', '.join(map(repr, near))}?" if near else \
                f"there are: {', '.join(names)}"
            raise HyplibError(f"unknown {what} {name!r}: {hint}")
        return frame[name]
    if kind == "abs":
        return evaluate(expr[1], frame, what).abs()
    if kind == "call":
        if expr[1] not in FUNCTIONS:
            near = close_matches(expr[1], list(FUNCTIONS))
            raise HyplibError(f"unknown function {expr[1]!r}: the functions are "
                              f"{', '.join(FUNCTIONS)}" + (f" (did you mean {near[0]!r}?)"
                                                           if near else ""))
        return FUNCTIONS[expr[1]](evaluate(expr[2], frame, what))
    if kind == "compare":
        a, b = evaluate(expr[2], frame, what), evaluate(expr[3], frame, what)
        try:
            return COMPARE[expr[1]](a, b)
        except TypeError:
            raise HyplibError(f"cannot compare {_show(expr[2])} with {_show(expr[3])}: one "
                              f"is text and the other a number; quote text values") from None
    if kind == "isin":
        return evaluate(expr[1], frame, what).isin(list(expr[2]))
    if kind == "like":
        pattern = fnmatch.translate(expr[2])
        return evaluate(expr[1], frame, what).astype(str).str.match(pattern)
    if kind == "not":
        return ~_mask(evaluate(expr[1], frame, what), frame)
    parts = [_mask(evaluate(e, frame, what), frame) for e in expr[1:]]
    return parts[0] & parts[1] if kind == "and" else parts[0] | parts[1]


def _show(expr: Cond) -> str:
    return repr(expr[1]) if expr[0] == "literal" else expr[-1] if isinstance(expr[-1], str) \
        else expr[0]


def _mask(value, frame: pd.DataFrame) -> pd.Series:
    if not isinstance(value, pd.Series):
        return pd.Series(bool(value), index=frame.index)
    if value.dtype != bool:
        raise HyplibError("a condition must compare values (e.g. |score| > 0.3), not name a "
                          "column or number alone")
    return value.fillna(False)


def keep(frame: pd.DataFrame, cond: Cond | None, what: str = "column of the result"
         ) -> pd.DataFrame:
    """The rows of ``frame`` where ``cond`` holds (NaN compares false)."""
    if cond is None:
        return frame
    return frame[_mask(evaluate(cond, frame, what), frame).to_numpy()]


def apply_post(frame: pd.DataFrame, post: Post) -> pd.DataFrame:
    """KEEP, then ORDER BY (stable), then LIMIT n [PER columns]."""
    frame = keep(frame, post.keep)
    if post.order:
        keys = {f"_key{i}": evaluate(k.expr, frame) for i, k in enumerate(post.order)}
        keys = {k: (v if isinstance(v, pd.Series) else pd.Series(v, index=frame.index))
                for k, v in keys.items()}
        frame = (frame.assign(**keys)
                 .sort_values(list(keys), ascending=[not k.descending for k in post.order],
                              kind="stable", na_position="last")
                 .drop(columns=list(keys)))
    if post.limit is not None:
        for col in post.per:
            evaluate(("column", col), frame)  # an unknown PER column is named
        frame = (frame.groupby(list(post.per), sort=False, dropna=False).head(post.limit)
                 if post.per else frame.head(post.limit))
    return frame.reset_index(drop=True)
