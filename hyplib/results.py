"""Results: a tidy pandas table, one row per (model, layer, unit, hypothesis, label, inspector)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .cache import atomic_path
from .errors import HyplibError

COLUMNS = ["model", "layer", "unit", "unit_name", "hypothesis", "label", "inspector", "score",
           "ci_low", "ci_high", "n"]


@dataclass
class Result:
    """The scores of one inspection (``table``) and how they were obtained (``meta``)."""

    table: pd.DataFrame
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_inspectors(cls, state: dict, meta: dict) -> "Result":
        parts = []
        for (model, layer, _level, name), inspector in state.items():
            s = inspector.scores()
            units, ncols = s.score.shape
            cols = inspector.columns
            unit = np.repeat(np.arange(units), ncols)
            parts.append(pd.DataFrame({
                "model": model, "layer": layer, "unit": unit,
                "unit_name": f"{model}:{layer}[" + pd.Series(unit).astype(str) + "]",
                "hypothesis": np.tile([c.hypothesis.name for c in cols], units),
                "label": np.tile([c.label for c in cols], units),
                "inspector": name,
                **{k: getattr(s, a).detach().cpu().numpy().reshape(-1)
                   for k, a in (("score", "score"), ("ci_low", "low"), ("ci_high", "high"),
                                ("n", "n"))},
            }))
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
        table["n"] = table["n"].astype("int64")
        return cls(table, meta)

    def top(self, k: int = 3, by: str = "abs") -> pd.DataFrame:
        """The ``k`` best units per (hypothesis, label, inspector), by |score| or by score."""
        t = self.table.dropna(subset=["score"])
        key = t["score"].abs() if by == "abs" else t["score"]
        t = t.assign(_key=key).sort_values("_key", ascending=False, kind="stable")
        best = t.groupby(["hypothesis", "label", "inspector"], sort=True).head(k)
        return (best.sort_values(["hypothesis", "label", "inspector", "_key"],
                                 ascending=[True, True, True, False])
                .drop(columns="_key").reset_index(drop=True))

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
