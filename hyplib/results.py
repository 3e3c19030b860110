"""Results: a tidy pandas table, one row per (model, layer, unit, hypothesis, label, inspector)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import atomic_path
from .errors import HyplibError
from .significance import p_values, q_values

COLUMNS = ["model", "layer", "unit", "unit_name", "hypothesis", "label", "inspector", "metric",
           "score", "ci_low", "ci_high", "n", "p", "q"]
KEY = ["hypothesis", "label", "inspector", "metric"]
LOWER_IS_BETTER = {"rank"}  # metrics whose best units have the smallest score


@dataclass
class Result:
    """The scores of one inspection (``table``) and how they were obtained (``meta``).

    ``unit`` is the unit's index, or -1 for a group of units (``unit_name`` ``model:layer[group]``).
    ``p`` tests "no association" and ``q`` is its Benjamini–Hochberg q-value over every test
    of the run (:mod:`hyplib.significance`; NaN where the score has no test).
    """

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_inspectors(cls, state: dict, meta: dict) -> "Result":
        parts = []
        for (model, layer, _level, _name), inspector in state.items():
            for s in as_list(inspector.scores()):
                parts.append(_frame(model, layer, inspector.name, s, inspector.columns,
                                    p_values(inspector, s)))
                reps = getattr(inspector, "replicates", lambda _metric: None)(s.metric)
                if reps is not None:  # bootstrap replicates, one array per row
                    parts[-1]["replicates"] = list(reps.reshape(-1, reps.shape[-1]))
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
        table["n"] = table["n"].astype("int64")
        table["p"] = np.minimum(table["p"].to_numpy(np.float64) / meta.get("alpha_share", 1.0), 1)
        table["q"] = q_values(table["p"].to_numpy())
        meta["tests"] = int(table["p"].notna().sum())
        return cls(table, meta)

    def discoveries(self, fdr: float = 0.05, method: str = "bh",
                    order: str = "p") -> pd.DataFrame:
        """The rows significant at false discovery rate ``fdr``: q-values by Benjamini–Hochberg
        (``"bh"``) or Benjamini–Yekutieli (``"by"``, any dependence) over the run's tests,
        smallest p first (ties, such as p-values below float64's range, by effect size:
        |score| for the inspectors ranked that way), or with ``order="effect"`` largest
        effect first."""
        if not 0 < fdr < 1:
            raise HyplibError(f"the false discovery rate must lie in (0, 1), e.g. 0.05, not {fdr}")
        if order not in ("p", "effect"):
            raise HyplibError(f"order must be 'p' or 'effect', not {order!r}")
        t = self.table.assign(q=q_values(self.table["p"].to_numpy(np.float64), method))
        t = t[t["q"] <= fdr]
        absolute = t["inspector"].isin(self.meta.get("rank_by_abs", []))
        t = t.assign(_effect=-t["score"].where(~absolute, t["score"].abs()))
        keys = ["p", "_effect"] if order == "p" else ["_effect", "p"]
        return (t.sort_values(keys, kind="stable").drop(columns="_effect")
                .reset_index(drop=True))

    def top(self, k: int = 3, by: str = "auto") -> pd.DataFrame:
        """The ``k`` best units per (hypothesis, label, inspector, metric).

        ``by`` is ``"abs"`` (|score|), ``"score"``, or ``"auto"``: |score| for the inspectors
        that rank that way (correlations), the score itself for the others.
        """
        t = self.table.dropna(subset=["score"])
        if by == "auto":
            absolute = t["inspector"].isin(self.meta.get("rank_by_abs", []))
        else:
            absolute = pd.Series(by == "abs", index=t.index)
        key = t["score"].where(~absolute, t["score"].abs())
        key = key.where(~t["metric"].isin(LOWER_IS_BETTER), -t["score"])
        t = t.assign(_key=key).sort_values("_key", ascending=False, kind="stable")
        best = t.groupby(KEY, sort=True).head(k)
        return (best.sort_values(KEY + ["_key"], ascending=[True] * len(KEY) + [False])
                .drop(columns="_key").reset_index(drop=True))

    def _repr_html_(self) -> str:
        from .report.notebook import html_table
        return html_table(self)

    def plot(self, inspector: str | None = None, metric: str | None = None, units: int = 20):
        """A units × hypotheses heat map of the strongest units, as a matplotlib Figure."""
        from .report.notebook import plot
        return plot(self, inspector, metric, units)

    def report(self, out: str | Path, models=None, data=None, **options) -> Path:
        """Write the browsable HTML report to folder ``out``: see :func:`hyplib.report.write`."""
        from .report import write
        return write(self, out, models=models, data=data, **options)

    def save(self, path: str | Path) -> Path:
        """Write the table to ``.parquet`` or ``.csv`` (and the metadata beside it), atomically."""
        path = Path(path)
        if path.suffix not in (".parquet", ".csv"):
            raise HyplibError(f"cannot save results as {path.name!r}: use a .parquet or .csv name")
        with atomic_path(path) as tmp:
            if path.suffix == ".parquet":
                self.table.to_parquet(tmp, index=False)
            else:
                self.table.to_csv(tmp, index=False)
        with atomic_path(path.with_name(path.name + ".json")) as tmp:
            tmp.write_text(json.dumps(self.meta, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Result":
        path = Path(path)
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        meta_path = path.with_name(path.name + ".json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return cls(table, meta)


def as_list(scores) -> list:
    """An inspector's ``scores()`` as a list of Scores."""
    return scores if isinstance(scores, list) else [scores]


def _frame(model: str, layer: str, inspector: str, s, columns, p) -> pd.DataFrame:
    """The rows of one Scores (and their p-values, or None): rows × columns flattened
    row-major."""
    rows, ncols = s.score.shape
    cols = s.columns if s.columns is not None else columns
    names = list(s.groups) if s.groups is not None else [str(u) for u in range(rows)]
    units = np.arange(rows) if s.groups is None else np.full(rows, -1)
    return pd.DataFrame({
        "model": model, "layer": layer, "unit": np.repeat(units, ncols),
        "unit_name": np.repeat([f"{model}:{layer}[{name}]" for name in names], ncols),
        "hypothesis": np.tile([c.hypothesis.name for c in cols], rows),
        "label": np.tile([c.label for c in cols], rows),
        "inspector": inspector, "metric": s.metric,
        **{key: getattr(s, field).detach().cpu().numpy().astype(np.float64).reshape(-1)
           for key, field in (("score", "score"), ("ci_low", "low"), ("ci_high", "high"),
                              ("n", "n"))},
        "p": np.nan if p is None else np.asarray(p, dtype=np.float64).reshape(-1),
    })
