"""Early stopping against how fast the scores actually converge.

Per seeded run (each its own record order) on the planted model of ``bench/stopping.py``: the
records read and the seconds taken by a pass with ``--tolerance`` (the engine's own stop),
beside the oracle's stop for the same order: the first of the engine's looks (after 4 batches,
then every 25% more records) from which on every score stays within the tolerance of its
full-data value. The oracle knows the full-data scores, so no honest rule can stop before it;
the gap is what the intervals' validity costs. Writes ``bench/results/convergence.md``
(``.csv`` beside it).

    python bench/convergence.py [--seeds 10] [--tolerance 0.02] [--inspectors correlation]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from machine import machine
from stopping import DIGIT, KIND, UPPER

from hyplib.engine import inspect
from hyplib.testing import PlantedModel, random_texts

OUT = Path(__file__).parent / "results"


def looks(batch: int, total: int) -> list[int]:
    """The record counts at which the engine looks (hyplib.engine.inspect's schedule)."""
    out, read, next_check = [], 0, 4 * batch
    while read < total:
        read = min(read + batch, total)
        if read >= next_check and read < total:
            out.append(read)
            next_check = int(read * 1.25) + 1
    return out + [total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--inspectors", nargs="+", default=["correlation"])
    parser.add_argument("--name", default="convergence")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, data, hyps = PlantedModel(), random_texts(args.records, 80), [DIGIT, UPPER, KIND]
    kw = {"batch_size": args.batch_size, "progress": False}
    full = inspect(model, data, hyps, args.inspectors, **kw).table["score"].to_numpy()
    points = looks(args.batch_size, len(data))
    rows = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        early = inspect(model, data, hyps, args.inspectors, seed=seed,
                        tolerance=args.tolerance, **kw)
        seconds = time.perf_counter() - start
        # the oracle: the first look from which on every score is within the tolerance
        off = [np.nanmax(np.abs(inspect(model, data, hyps, args.inspectors, seed=seed,
                                        max_records=n, **kw).table["score"].to_numpy() - full))
               for n in points]
        within = np.array(off) <= args.tolerance
        oracle = next(n for i, n in enumerate(points) if within[i:].all())
        rows.append({"seed": seed, "stopped": early.meta["stopped"],
                     "records_read": early.meta["records"], "seconds": round(seconds, 2),
                     "oracle_records": oracle,
                     "read_over_oracle": round(early.meta["records"] / oracle, 2),
                     "max_error_at_stop": round(float(np.nanmax(np.abs(
                         early.table["score"].to_numpy() - full))), 4)})
    table = pd.DataFrame(rows)
    summary = (f"{args.seeds} runs of {len(data):,} records, batches of {args.batch_size}, "
               f"tolerance {args.tolerance}, inspectors {' + '.join(args.inspectors)}: the "
               f"engine stopped after {table['records_read'].median():.0f} records (median; "
               f"{table['records_read'].min()}–{table['records_read'].max()}), the oracle "
               f"after {table['oracle_records'].median():.0f} "
               f"({table['oracle_records'].min()}–{table['oracle_records'].max()}): "
               f"{table['read_over_oracle'].median():.2f}× the oracle's reading; a full pass "
               f"reads {len(data):,}. Looks at {', '.join(map(str, points[:8]))}, ... records. "
               f"Machine: {machine(torch.device('cpu'))}.")
    text = (f"# Early stopping against the scores' convergence\n\nCommand: `python "
            f"bench/convergence.py --seeds {args.seeds} --tolerance {args.tolerance}`\n\n"
            f"{summary}\n\n{table.to_markdown(index=False)}\n")
    print(text)
    table.to_csv(OUT / f"{args.name}.csv", index=False)
    (OUT / f"{args.name}.md").write_text(text)


if __name__ == "__main__":
    main()
