"""EVALUATE: a model-level measure per record (an evaluation bound in Python), averaged per
group with a record-bootstrap interval whose replicates pair with other passes'."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import UnknownNameError
from .bootstrap import percentile_interval, poisson_weights, record_key
from .statements import Evaluate


def evaluation_table(values: np.ndarray, data, q: Evaluate, model: str, replicates: int,
                     seed: int) -> pd.DataFrame:
    """Mean per group (BY fields) with a record-bootstrap percentile interval and replicates."""
    if q.by:
        missing = [b for b in q.by if b not in data.column_names]
        if missing:
            raise UnknownNameError("field", missing[0], list(data.column_names))
        frame = data.select_columns(list(q.by)).to_pandas()
        labels = frame.astype(str).agg("/".join, axis=1).to_numpy()
    else:
        labels = np.full(len(values), "")
    groups, inverse = np.unique(labels, return_inverse=True)
    one_hot = np.zeros((len(values), len(groups)))
    one_hot[np.arange(len(values)), inverse] = 1.0
    w = poisson_weights(np.array([record_key(t) for t in data["text"]]), replicates, seed)
    n = one_hot.sum(0)
    mean = one_hot.T @ values / n
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (one_hot * values[:, None]).T @ w / (one_hot.T @ w)
    low, high = percentile_interval(reps)
    return pd.DataFrame({
        "model": model, "layer": "", "unit": -1, "unit_name": model, "hypothesis": q.name,
        "label": groups, "inspector": "evaluate", "metric": "mean", "score": mean,
        "ci_low": low, "ci_high": high, "n": n.astype(np.int64), "replicates": list(reps)})
