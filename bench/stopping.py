"""Early stopping's honesty on planted data: over seeded runs (each its own record order) that
stop at ``--tolerance``, how much of the data each read, and how often the stop-time interval
holds the full-data score (per score, per run), per inspector metric.

The model is :class:`hyplib.testing.PlantedModel` (12 units, two planted) on random texts;
the hypotheses are-digit, is-upper and their categorical union. Prints a Markdown table and
writes ``bench/results/stopping.md`` (``.csv`` beside it).

    python bench/stopping.py [--seeds 50] [--tolerance 0.02] [--inspectors correlation auc]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import hyplib
from hyplib.engine import inspect
from hyplib.testing import PlantedModel, random_texts
from machine import machine

OUT = Path(__file__).parent / "results"
DIGIT = hyplib.hypothesis("bench.digit")(lambda t: [c.isdigit() for c in t])
UPPER = hyplib.hypothesis("bench.upper")(lambda t: [c.isupper() for c in t])
KIND = hyplib.hypothesis("bench.kind", kind="categorical", classes=("digit", "upper", "other"))(
    lambda t: ["digit" if c.isdigit() else "upper" if c.isupper() else "other" for c in t])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--inspectors", nargs="+", default=["correlation"])
    parser.add_argument("--name", default="stopping")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, data, hyps = PlantedModel(), random_texts(args.records, 80), [DIGIT, UPPER, KIND]
    kw = {"batch_size": 16, "progress": False}
    full = inspect(model, data, hyps, args.inspectors, **kw).table
    covered, read = [], []
    for seed in range(args.seeds):
        early = inspect(model, data, hyps, args.inspectors, seed=seed, tolerance=args.tolerance,
                        top_k=args.top_k, **kw)
        t = early.table
        covered.append(((t["ci_low"] <= full["score"]) & (full["score"] <= t["ci_high"]))
                       .to_numpy())
        read.append(early.meta["records"] / len(data))
    hits = pd.DataFrame(np.array(covered).T, index=pd.MultiIndex.from_frame(
        full[["inspector", "metric"]]))
    rows = []
    for (insp, metric), part in hits.groupby(level=[0, 1], sort=False):
        rows.append({"inspector": insp, "metric": metric, "scores": len(part),
                     "covered": round(part.to_numpy().mean(), 4),
                     "worst_score": round(part.mean(axis=1).min(), 3),
                     "worst_run": round(part.mean(axis=0).min(), 3)})
    table = pd.DataFrame(rows).assign(
        runs=args.seeds, tolerance=args.tolerance, top_k=args.top_k,
        read_mean=round(float(np.mean(read)), 3), read_max=round(float(np.max(read)), 3),
        **machine(torch.device("cpu")))
    print(table.to_markdown(index=False))
    table.to_csv(OUT / f"{args.name}.csv", index=False)
    (OUT / f"{args.name}.md").write_text(table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
