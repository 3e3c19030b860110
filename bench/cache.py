"""The behaviour cache: a second query on the same model, layers and data skips the model.

On the trained char-LSTM (h and c of both layers: 1,024 units) it times, in an empty
cache folder (removed afterwards): (1) a first query with ``behaviour_cache=True`` (runs the model, writes the aligned
behaviours to disk), (2) a second query asking about *other* hypotheses, served from the cache,
(3) the same second query without the cache, and checks that (2) and (3) give the same scores.
Writes ``bench/results/cache.md`` and ``.csv``.

    python bench/cache.py [--symbols 200000] [--inspectors correlation [--inspectors ...]]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "results"
LAYERS = ["lstm.0", "lstm.1", "cells.0", "cells.1"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=200_000)
    p.add_argument("--inspectors", nargs="+", action="append",
                   help="one query's inspectors (repeat for several); default: correlation, "
                        "then correlation + mutual_info")
    p.add_argument("--device", default="auto")
    p.add_argument("--name", help="results file stem (default cache, or cache-cuda on CUDA)")
    args = p.parse_args(argv)
    from hyplib_zoo.stdlib import python_stdlib

    from hyplib.annotation import annotate
    from hyplib.cache import cache_dir
    from hyplib import inspect, pick_device
    from hyplib.plugins import catalog

    sys.path.insert(0, str(Path(__file__).parent))
    from machine import machine, stem
    from scale import records_for

    dev = pick_device(args.device)
    name = stem("cache", dev, args.name)
    cat = catalog()
    model = cat.get("models", "charlm").build(progress=True)  # trained once, from your cache
    data = records_for(python_stdlib("test"), args.symbols)
    first = cat.select("hypotheses", ["grammar.python.*"])
    second = cat.select("hypotheses", ["grammar.brackets.*", "text.*"])
    warm = data.select(range(min(64, len(data))))  # warm-up (kernels), untimed
    inspect(model, warm, first, ["correlation", "mutual_info"], LAYERS, device=dev,
            progress=False)
    rows = []
    for inspectors in args.inspectors or [["correlation"], ["correlation", "mutual_info"]]:
        os.environ["HYPLIB_CACHE"] = tempfile.mkdtemp(prefix="hyplib-bench-cache-")  # empty
        annotate(data, first + second, progress=False)

        def query(hyps, cached, inspectors=inspectors):
            start = time.perf_counter()
            result = inspect(model, data, hyps, inspectors, LAYERS, device=dev,
                             behaviour_cache=cached, progress=False)
            return time.perf_counter() - start, result

        t_first, _ = query(first, True)
        t_cached, cached = query(second, True)
        t_plain, plain = query(second, False)
        diff = float(np.nanmax(np.abs(cached.table["score"].to_numpy()
                                      - plain.table["score"].to_numpy())))
        disk = sum(f.stat().st_size for f in cache_dir("behaviours").glob("*.npy"))
        rows.append({
            "records": len(data), "symbols": cached.meta["symbols"]["char"], "units": 1024,
            "inspectors": "+".join(inspectors), "first_query_s": round(t_first, 2),
            "second_query_cached_s": round(t_cached, 2),
            "second_query_uncached_s": round(t_plain, 2),
            "first_over_cached": round(t_first / t_cached, 1),
            "uncached_over_cached": round(t_plain / t_cached, 1),
            "max_score_difference": diff, "cache_mib": round(disk / 2**20),
            **machine(dev)})
        shutil.rmtree(os.environ["HYPLIB_CACHE"])
    table = pd.DataFrame(rows)
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / f"{name}.csv", index=False)
    (OUT / f"{name}.md").write_text(
        "# Behaviour cache: first query vs a second query served from the cache\n\n"
        f"Command: `python bench/cache.py {' '.join(sys.argv[1:])}`\n\n"
        + table.T.to_markdown(headers=["", *table["inspectors"]]) + "\n")
    print(table.T.to_string(header=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
