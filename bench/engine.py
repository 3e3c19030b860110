"""End-to-end cost of inspection against its physical limit, the model's own forward pass.

On the same records and batches it times (c) the bare forward pass with no hooks (and with
the inspected layers recorded, which for the char-LSTM's cell states means computing them), (b) hyplib's
``inspect`` (all layers × hypotheses × the chosen inspectors, annotations already cached), and
(a) a naive per-unit implementation (scipy ``pearsonr`` per unit × label column and sklearn
``mutual_info_score`` per unit × hypothesis on the same behaviours, kept unit-major, DeepBase's
"standard Python implementation"), timed on a subset of pairs and extrapolated to all of them.
Defaults: the char-LSTM's h and c of both layers (1,024 units), 55 hypotheses (the grammar
and text packs' 20 + 35 n-gram ones), correlation + mutual information. Writes ``bench/results/engine.md`` and ``.csv``.

    python bench/engine.py [--model charlm] [--records 400] [--inspectors correlation ...]
                           [--device auto] [--name engine]

On CUDA the results go to ``engine-cuda.md`` unless ``--name`` says otherwise; ``tokens`` counts
the model's own positions (characters for the char-LSTM, sub-word pieces for a Hugging Face
model).
"""
from __future__ import annotations

import argparse
import functools
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hyplib_zoo.stdlib import python_stdlib
from scipy import stats
from sklearn.metrics import mutual_info_score

from hyplib import PRECISIONS, inspect, model_precision, pick_device
from hyplib.align import align, symbol_spans
from hyplib.annotation import annotate, label_matrix
from hyplib.extract import record
from hyplib.plugins import catalog

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine, stem
from scale import ngram_hypotheses

OUT = Path(__file__).parent / "results"


def forward_only(model, data, order, batch_size, dev, precision="float32",
                 layers=()) -> tuple[float, int]:
    """Seconds and tokens of the bare forward pass in the arithmetic ``inspect`` uses at
    ``precision``; with ``layers``, also producing those layers' outputs (a layer such as the
    char-LSTM's ``cells.i`` is computed only when something records it). Each batch's records
    come longest first, as the engine gives them to the model."""
    start, tokens = time.perf_counter(), 0
    lengths = np.array([len(t) for t in data["text"]])
    with torch.inference_mode(), record(model.module, layers):
        for lo in range(0, len(order), batch_size):
            ids = order[lo:lo + batch_size]
            batch = data[ids[np.argsort(-lengths[ids], kind="stable")]]
            enc = model.encode(batch["text"])
            with model_precision(precision, dev):
                model.forward(enc, dev)
            tokens += int((enc.spans[..., 0] >= 0).sum())
    _sync(dev)
    return time.perf_counter() - start, tokens


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def naive(model, data, order, layers, hyps, batch_size, pairs: int, dev) -> tuple[float, int]:
    """Gather every behaviour and label (as a naive tool would), then per pair scipy
    ``pearsonr`` (every unit × label column) and sklearn ``mutual_info_score`` on 16 quantile
    bins (every unit × binary/categorical hypothesis), timed on ``pairs`` random pairs each and
    extrapolated; returns seconds and the number of pairs."""
    labels = annotate(data, hyps, progress=False)
    xs, ys = {layer: [] for layer in layers}, []
    start = time.perf_counter()
    with torch.inference_mode():
        for lo in range(0, len(order), batch_size):
            ids = order[lo:lo + batch_size]
            batch = data[ids]
            enc = model.encode(batch["text"])
            with record(model.module, layers) as seen:
                model.forward(enc, dev)
            al = align(enc.spans, symbol_spans(batch, "char")).to(dev)
            for layer in layers:
                xs[layer].append(al.gather(seen[layer]).float().cpu().numpy())
            ys.append(label_matrix([labels[h.name] for h in hyps], ids, "cpu").numpy())
    collect = time.perf_counter() - start
    # unit-major copies, as a per-unit loop keeps them (scipy on a strided column of the
    # symbol-major matrix is ~15× slower, which would flatter hyplib); made before timing
    x = np.ascontiguousarray(np.concatenate([np.concatenate(xs[layer]) for layer in layers],
                                            axis=1).T)
    y = np.ascontiguousarray(np.concatenate(ys).T)
    columns = [c for h in hyps for c in h.columns]
    discrete = [h for h in hyps if h.kind != "continuous"]
    codes = np.stack([_codes(y, columns, h) for h in discrete])
    rng = np.random.default_rng(0)
    units, cols = rng.integers(x.shape[0], size=pairs), rng.integers(y.shape[0], size=pairs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)  # some columns are constant
        start = time.perf_counter()
        for u, c in zip(units, cols):
            stats.pearsonr(x[u], y[c])
        per_r = (time.perf_counter() - start) / pairs
    levels = np.linspace(0, 1, 17)[1:-1]
    start = time.perf_counter()
    binned = {u: np.digitize(x[u], np.quantile(x[u], levels)) for u in set(units[:pairs // 4])}
    per_bin = (time.perf_counter() - start) / len(binned)
    hs = rng.integers(len(discrete), size=pairs // 4)
    start = time.perf_counter()
    for u, h in zip(units[:pairs // 4], hs):
        mutual_info_score(binned[u], codes[h])
    per_mi = (time.perf_counter() - start) / len(hs)
    n_r, n_mi = x.shape[0] * y.shape[0], x.shape[0] * len(discrete)
    return collect + per_r * n_r + per_bin * x.shape[0] + per_mi * n_mi, n_r + n_mi


def _codes(y: np.ndarray, columns, hyp) -> np.ndarray:
    """A discrete hypothesis's class per symbol from its label columns."""
    mine = [i for i, c in enumerate(columns) if c.hypothesis is hyp]
    return y[mine[0]].astype(np.int64) if len(mine) == 1 else y[mine].argmax(0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="charlm")
    p.add_argument("--records", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--layers", nargs="+", default=["lstm.0", "lstm.1", "cells.0", "cells.1"])
    p.add_argument("--inspectors", nargs="+", default=["correlation", "mutual_info"])
    p.add_argument("--hypotheses", nargs="+",
                   default=["grammar.python.*", "grammar.brackets.*", "text.*"])
    p.add_argument("--ngrams", type=int, default=35,
                   help="add this many n-gram hypotheses (bench/scale.py) to the named ones")
    p.add_argument("--pairs", type=int, default=400, help="naive pairs actually timed")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of each side, interleaved; times are medians (ratios: the "
                        "median of the per-repeat ratios)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="float32", choices=list(PRECISIONS))
    p.add_argument("--name", help="results file stem (default engine, or engine-cuda on CUDA)")
    args = p.parse_args(argv)
    dev = pick_device(args.device)
    name = stem("engine", dev, args.name)

    cat = catalog()
    model = cat.get("models", args.model).build(progress=True).to(dev)
    layers = args.layers
    data = python_stdlib()
    order = np.random.default_rng(0).permutation(len(data))[:args.records]
    sub = data.select(order)
    hyps = cat.select("hypotheses", args.hypotheses) + ngram_hypotheses(sub["text"], args.ngrams)
    annotate(sub, hyps, progress=False)  # annotation is cached; time the pass itself
    n_cols = sum(len(h.columns) for h in hyps)

    every, prec = np.random.default_rng(0).permutation(len(sub)), args.precision  # as inspect
    forward_only(model, sub, every, args.batch_size, dev, prec)  # warm-up
    run = functools.partial(inspect, model, hypotheses=hyps, inspectors=args.inspectors,
                            layers=layers, batch_size=args.batch_size, device=dev,
                            precision=prec, progress=False)
    run(sub.select(range(min(2 * args.batch_size, len(sub)))))  # warm-up: kernels, annotations
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = {"forward": [], "recording": [], "hyplib": []}
    cpu = {k: [] for k in times}
    for _ in range(args.repeats):  # the three sides interleaved, each repeat
        for side, fn in (("forward", lambda: forward_only(model, sub, every, args.batch_size,
                                                          dev, prec)),
                         ("recording", lambda: forward_only(model, sub, every, args.batch_size,
                                                            dev, prec, layers)),
                         ("hyplib", lambda: run(sub))):
            start, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times[side].append(time.perf_counter() - start)
            cpu[side].append(time.process_time() - c0)
            if side == "forward":
                tokens = out[1]
            elif side == "hyplib":
                result = out
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
    med = {k: float(np.median(v)) for k, v in times.items()}
    t_forward, t_recorded, t_hyplib = med["forward"], med["recording"], med["hyplib"]
    ratios = {f"{a}_over_{b}": [x / y for x, y in zip(times[a], times[b])]
              for a, b in (("hyplib", "forward"), ("hyplib", "recording"))}
    t_naive, pairs = naive(model, sub, every, layers, hyps, args.batch_size, args.pairs, dev)
    symbols = result.meta["symbols"]["char"]
    units = int(result.table.query("unit >= 0").groupby("layer")["unit"].max().add(1).sum())
    row = {"model": args.model, "records": len(sub), "symbols": symbols, "units": units,
           "hypotheses": len(hyps), "label_columns": n_cols, "inspectors": "+".join(args.inspectors),
           "precision": prec, "batch_size": args.batch_size,
           "repeats": args.repeats,
           "forward_s": round(t_forward, 2), "forward_recording_layers_s": round(t_recorded, 2),
           "hyplib_s": round(t_hyplib, 2),
           **{f"{k}_s_min": round(min(v), 2) for k, v in times.items()},
           **{f"{k}_cpu_s": round(float(np.median(v)), 2) for k, v in cpu.items()},
           "naive_s_extrapolated": round(t_naive, 1), "naive_pairs": pairs,
           "hyplib_over_forward": round(float(np.median(ratios["hyplib_over_forward"])), 2),
           "hyplib_over_forward_recording": round(
               float(np.median(ratios["hyplib_over_recording"])), 2),
           "hyplib_over_forward_cpu": round(float(np.median(cpu["hyplib"]))
                                            / float(np.median(cpu["forward"])), 2),
           "hyplib_over_forward_recording_cpu": round(float(np.median(cpu["hyplib"]))
                                                      / float(np.median(cpu["recording"])), 2),
           "naive_over_hyplib": round(t_naive / t_hyplib, 1),
           "symbols_per_s": round(symbols / t_hyplib), "tokens": tokens,
           "tokens_per_s": round(tokens / t_hyplib),
           "forward_tokens_per_s": round(tokens / t_forward),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
           "peak_gpu_mib": None if gpu_peak is None else round(gpu_peak),
           **machine(dev)}
    table = pd.DataFrame([row])
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / f"{name}.csv", index=False)
    (OUT / f"{name}.md").write_text(
        "# Engine: hyplib vs the bare forward pass vs a naive per-unit loop\n\n"
        f"Command: `python bench/engine.py {' '.join(sys.argv[1:])}`. Times: medians of "
        f"{args.repeats} interleaved repeats (wall seconds; `_cpu_s`: the process's CPU "
        "seconds, steadier on a shared machine); torch on "
        f"{torch.get_num_threads()} thread(s).\n\n"
        + table.T.to_markdown(headers=["", "value"]) + "\n")
    print(table.T.to_string(header=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
