"""i-Algebra's operators over inspection results (Zhang et al., AAAI 2021), on pandas tables.

*selection* keeps layers, units and hypotheses; *join* pairs the rows of two results that
satisfy a condition in both; *difference* (the anti-join's measure) pairs them and puts a
paired-bootstrap interval on the difference of their scores. *Projection* and *what-if* act
on the pass itself (:mod:`~hyplib.query.variants`, ``WITH ABLATE``); the planner runs them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import HyplibError
from ..results import KEY, LOWER_IS_BETTER, Result
from .conditions import keep


def key_columns(on) -> list[str]:
    """The columns rows are paired on: ``on`` (``unit`` = layer and unit index) and always the
    hypothesis, its label, the inspector and the metric."""
    cols = []
    for c in on:
        cols += ["layer", "unit"] if c == "unit" else [c]
    return list(dict.fromkeys(cols + KEY))


def select(result: Result, layers=None, units=None, hypotheses=None) -> Result:
    """The rows of the chosen layers, unit names (``model:layer[i]``) and hypotheses."""
    t = result.table
    mask = np.ones(len(t), dtype=bool)
    for column, chosen in (("layer", layers), ("unit_name", units), ("hypothesis", hypotheses)):
        if chosen is not None:
            mask &= t[column].isin(list(chosen)).to_numpy()
    return Result(t[mask].reset_index(drop=True), dict(result.meta))


def _check(table: pd.DataFrame, key: list[str], name: str) -> None:
    missing = [c for c in key if c not in table.columns]
    if missing:
        raise HyplibError(f"result {name!r} has no column {missing[0]!r} to pair rows on; its "
                          f"columns: {', '.join(c for c in table.columns if c != 'replicates')}")


def _side(table: pd.DataFrame, key: list[str], name: str) -> pd.DataFrame:
    return table.rename(columns={c: f"{name}.{c}" for c in table.columns if c not in key})


def join(left: Result, right: Result, on=("hypothesis",), where=None,
         names: tuple[str, str] = ("left", "right")) -> Result:
    """Rows of ``left`` and ``right`` that agree on the key (:func:`key_columns`) and each
    satisfy ``where`` (a parsed condition); every other column is prefixed ``name.``."""
    key = key_columns(on)
    sides = []
    for result, name in zip((left, right), names):
        _check(result.table, key, name)
        kept = keep(result.table, where).drop(columns=["replicates"], errors="ignore")
        sides.append(_side(kept, key, name))
    table = sides[0].merge(sides[1], on=key, how="inner")
    return Result(table, {"operator": "join", "on": key, "results": list(names)})


def _ranking(table: pd.DataFrame, rank_by_abs) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ranking key and its replicates (|r| for inspectors ranked by |score|,
    minus the score for metrics where lower is better)."""
    by_abs = table["inspector"].isin(list(rank_by_abs)).to_numpy()
    lower = table["metric"].isin(list(LOWER_IS_BETTER)).to_numpy()
    score = table["score"].to_numpy(dtype=np.float64)
    reps = np.stack(table["replicates"].to_numpy())
    sign = np.where(lower, -1.0, 1.0)
    score = np.where(by_abs, np.abs(score), score) * sign
    reps = np.where(by_abs[:, None], np.abs(reps), reps) * sign[:, None]
    return score, reps


def _best(table: pd.DataFrame, key: list[str], rank_by_abs) -> pd.DataFrame:
    """Per key, the best unit's ranking key, and per replicate the best key over the units."""
    score, reps = _ranking(table, rank_by_abs)
    groups = table.groupby(key, sort=True, dropna=False).ngroup().to_numpy()
    best_rows = pd.Series(score).fillna(-np.inf).groupby(groups).idxmax().to_numpy()
    rep_best = pd.DataFrame(reps).groupby(groups).max().to_numpy()  # NaN-skipping
    out = table.iloc[best_rows][key + ["unit_name"]].reset_index(drop=True)
    out["score"] = score[best_rows]
    out["replicates"] = list(rep_best)
    return out


def difference(left: Result, right: Result, on=("unit",), best: bool = False,
               names: tuple[str, str] = ("left", "right"), confidence: float = 0.95,
               rank_by_abs=("correlation",)) -> Result:
    """``left`` minus ``right`` per key, with a paired-bootstrap percentile interval.

    Rows pair on :func:`key_columns` (``on``); each side must have one row per key unless
    ``best``, which compares per key the best unit's ranking key (|r| for correlations)
    and, in each replicate, the best unit of that replicate (the bootstrap of a maximum is
    biased upward when many units are close to the best: read it as approximate). Both
    results need bootstrap replicates of the same records, which the planner keeps for the
    statements a DIFF reads."""
    from .bootstrap import percentile_interval  # torch: only when a DIFF runs

    key = key_columns(on)
    if names[0] == names[1]:
        raise HyplibError(f"DIFF compares two results, not {names[0]!r} with itself")
    sides = []
    for result, name in zip((left, right), names):
        t = result.table
        _check(t, key, name)
        if "replicates" not in t.columns or t["replicates"].isna().any():
            raise HyplibError(f"result {name!r} has rows without bootstrap replicates: DIFF "
                              f"reads correlation results of INSPECT (KEEP inspector = "
                              f"'correlation' if it used others) or EVALUATE results, "
                              f"directly or through FROM")
        if best:
            t = _best(t, key, rank_by_abs)
        elif t.duplicated(key).any():
            dup = t[t.duplicated(key, keep=False)].iloc[0]
            raise HyplibError(f"result {name!r} has several rows for one key "
                              f"({', '.join(f'{c}={dup[c]}' for c in key)}): pair on more "
                              f"columns (ON unit) or compare the best per key (DIFF BEST)")
        sides.append(_side(t, key, name))
    merged = sides[0].merge(sides[1], on=key, how="inner")
    a, b = (np.stack(merged[f"{n}.replicates"].to_numpy()) if len(merged) else
            np.zeros((0, 1)) for n in names)
    if a.shape[1] != b.shape[1]:
        raise HyplibError(f"results {names[0]!r} and {names[1]!r} have {a.shape[1]} and "
                          f"{b.shape[1]} bootstrap replicates: give both the same")
    reps = a - b
    low, high = percentile_interval(reps, confidence)
    shown = key + [f"{n}.{c}" for n in names for c in ("unit_name", "score")
                   if f"{n}.{c}" in merged.columns]
    table = merged[shown].assign(
        score=merged[f"{names[0]}.score"] - merged[f"{names[1]}.score"],
        ci_low=low, ci_high=high, replicates=list(reps))
    return Result(table.reset_index(drop=True),
                  {"operator": "difference", "on": key, "best": best, "results": list(names),
                   "replicates": int(reps.shape[1]), "confidence": confidence})
