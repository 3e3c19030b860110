"""End-to-end cost of inspection against its physical limit, the model's own forward pass.

On the same records and batches it times (c) the bare forward pass with no hooks, (b) hyplib's
``inspect`` (all layers × hypotheses × the chosen inspectors, annotations already cached), and
(a) a naive per-unit implementation (scipy ``pearsonr`` per unit × label column on the same
behaviours, kept unit-major, DeepBase's "standard Python implementation"), timed on a subset
of pairs and extrapolated to all of them. Writes ``bench/results/engine.md`` and ``.csv``.

    python bench/engine.py [--model charlm] [--records 400] [--inspectors correlation ...]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from hyplib.annotate import annotate, label_matrix
from hyplib.align import align, symbol_spans
from hyplib.data import python_stdlib
from hyplib.engine import inspect
from hyplib.extract import record
from hyplib.plugins import catalog

OUT = Path(__file__).parent / "results"


def forward_only(model, data, order, batch_size) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            batch = data[order[lo:lo + batch_size]]
            model.forward(model.encode(batch["text"]), torch.device("cpu"))
    return time.perf_counter() - start


def naive(model, data, order, layers, hyps, batch_size, pairs: int) -> tuple[float, int]:
    """Gather every behaviour and label (as a naive tool would), then pearsonr per pair on a
    random subset of ``pairs`` (unit, column) pairs; returns extrapolated seconds and total pairs."""
    labels = annotate(data, hyps, progress=False)
    xs, ys = {layer: [] for layer in layers}, []
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            ids = order[lo:lo + batch_size]
            batch = data[ids]
            enc = model.encode(batch["text"])
            with record(model.module, layers) as seen:
                model.forward(enc, torch.device("cpu"))
            al = align(enc.spans, symbol_spans(batch, "char"))
            for layer in layers:
                xs[layer].append(al.gather(seen[layer]).numpy())
            ys.append(label_matrix([labels[h.name] for h in hyps], ids, "cpu").numpy())
    collect = time.perf_counter() - start
    # unit-major copies, as a per-unit loop keeps them (scipy on a strided column of the
    # symbol-major matrix is ~15× slower, which would flatter hyplib); made before timing
    x = np.ascontiguousarray(np.concatenate(xs[layers[0]]).T)
    y = np.ascontiguousarray(np.concatenate(ys).T)
    total = x.shape[0] * len(layers) * y.shape[0]
    rng = np.random.default_rng(0)
    picks = [(rng.integers(x.shape[0]), rng.integers(y.shape[0])) for _ in range(pairs)]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)  # some columns are constant
        for u, c in picks:
            stats.pearsonr(x[u], y[c])
    per_pair = (time.perf_counter() - start) / pairs
    return collect + per_pair * total, total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="charlm")
    p.add_argument("--records", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--inspectors", nargs="+", default=["correlation"])
    p.add_argument("--hypotheses", nargs="+", default=["grammar.*", "text.*"])
    p.add_argument("--pairs", type=int, default=300, help="naive pairs actually timed")
    args = p.parse_args(argv)

    cat = catalog()
    model = cat.get("models", args.model).build(progress=True)
    layers = list(model.default_layers)
    data = python_stdlib()
    order = np.random.default_rng(0).permutation(len(data))[:args.records]
    sub = data.select(order)
    hyps = cat.select("hypotheses", args.hypotheses)
    annotate(sub, hyps, progress=False)  # annotation is cached; time the pass itself
    n_cols = sum(len(h.columns) for h in hyps)

    forward_only(model, sub, np.arange(len(sub)), args.batch_size)  # warm-up
    t_forward = forward_only(model, sub, np.arange(len(sub)), args.batch_size)
    start = time.perf_counter()
    result = inspect(model, sub, hyps, args.inspectors, layers, batch_size=args.batch_size,
                     device="cpu", progress=False)
    t_hyplib = time.perf_counter() - start
    t_naive, pairs = naive(model, sub, np.arange(len(sub)), layers, hyps, args.batch_size,
                           args.pairs)
    symbols = result.meta["symbols"]["char"]
    units = sum(model.module.get_submodule(layer).hidden_size for layer in layers)
    row = {"model": args.model, "records": len(sub), "symbols": symbols, "units": units,
           "label_columns": n_cols, "inspectors": "+".join(args.inspectors),
           "forward_s": round(t_forward, 2), "hyplib_s": round(t_hyplib, 2),
           "naive_s_extrapolated": round(t_naive, 1),
           "hyplib_over_forward": round(t_hyplib / t_forward, 2),
           "naive_over_hyplib": round(t_naive / t_hyplib, 1),
           "symbols_per_s": round(symbols / t_hyplib),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "device": "cpu", "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "load_average": round(os.getloadavg()[0], 1)}
    table = pd.DataFrame([row])
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "engine.csv", index=False)
    (OUT / "engine.md").write_text(
        "# Engine: hyplib vs the bare forward pass vs a naive per-unit loop\n\n"
        f"Command: `python bench/engine.py {' '.join(sys.argv[1:])}`\n\n"
        + table.T.to_markdown(headers=["", "value"]) + "\n")
    print(table.T.to_string(header=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
