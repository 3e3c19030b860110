"""The Ray engine (hyplib.scale) against the local engine, and the cost of merging states.

(a) End to end, the engine benchmark's workload (the charlm recipe's char-LSTM, h and c of both
layers, 1,024 units, with seeded untrained weights: time does not depend on their values; 55
hypotheses, 70 label columns; correlation + mutual information): the local engine, then
``engine="ray"`` with 1 and 2 workers on a local cluster (``ray.init(num_cpus=2)``); time,
speed-up, shards, rounds, the driver's merge time and the bytes of the largest shard's states,
and the largest difference from the local scores. (b) Per inspector, for 1,024 units × the
same 55 hypotheses: the bytes of a shard's state (what a worker sends back per merge) and of a
fork (what the driver sends out), and the time of one ``merge`` on the driver, after 20,000
symbols per side. (c) From these, an estimate for a cluster: ``--nodes`` GPU nodes over
``--tokens`` tokens of SmolLM2 activations (two layers, 1,152 units, as ``bench/engine.py``'s
SmolLM2 runs), each node inspecting ``--node-tokens-per-s`` (default: hyplib's measured
35,629 tokens/s on an H100, ``results/engine-smollm2-cuda-b128.md``), in shards of
``--shard-tokens``, the driver on a ``--gbit`` network. Writes ``bench/results/ray_engine.md`` and
``.csv``.

    python bench/ray_engine.py [--records 200] [--units 1024] [--symbols 20000] [--nodes 16]
                        [--tokens 1e9] [--shard-tokens 1e6]
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hyplib.annotation import annotate
from hyplib.engine import inspect
from hyplib.plugins import catalog
from hyplib.scale.states import fork_state, receive, ship, state_bytes

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine
from scale import ngram_hypotheses

from hyplib_zoo.charlm import CharLM, CharLMConfig, CharLSTM
from hyplib_zoo.stdlib import python_stdlib

OUT = Path(__file__).parent / "results"
LAYERS = ["lstm.0", "lstm.1", "cells.0", "cells.1"]
HYPOTHESES = ["grammar.python.*", "grammar.brackets.*", "text.*"]
INSPECTORS = ["correlation", "mutual_info"]
ALL = ["correlation", "selectivity", "mutual_info", "auc", "iou", "probe", "linear_probe"]


def end_to_end(records: int, batch_size: int) -> list[dict]:
    import ray

    cat = catalog()
    torch.manual_seed(0)  # the charlm recipe's architecture, seeded weights: time does not
    model = CharLM("charlm", CharLSTM(CharLMConfig()), ("lstm.0", "lstm.1"))  # need training
    data = python_stdlib()
    sub = data.select(np.random.default_rng(0).permutation(len(data))[:records])
    hyps = cat.select("hypotheses", HYPOTHESES) + ngram_hypotheses(sub["text"], 35)
    annotate(sub, hyps, progress=False)
    run = functools.partial(inspect, model, sub, hyps, INSPECTORS, LAYERS,
                            batch_size=batch_size, device="cpu", progress=False)
    run(max_records=2 * batch_size)  # warm-up
    rows = []
    start = time.perf_counter()
    local = run()
    rows.append(_row("local", local, time.perf_counter() - start, local))
    start = time.perf_counter()
    # the n-gram hypotheses travel by value: bench/ is not on the workers' path
    ray.cloudpickle.register_pickle_by_value(sys.modules["scale"])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"HYPLIB_CACHE": os.environ.get("HYPLIB_CACHE", "")}})
    startup = time.perf_counter() - start
    for workers in (1, 2):
        start = time.perf_counter()
        res = run(engine="ray", engine_args={"workers": workers})
        rows.append(_row(f"ray, {workers} worker{'s' * (workers > 1)}", res,
                         time.perf_counter() - start, local, startup))
    ray.shutdown()
    return rows


def _row(engine: str, res, seconds: float, local, startup: float | None = None) -> dict:
    m = res.meta
    diff = (res.table["score"] - local.table["score"]).abs().max()
    shard = m.get("shard_seconds", [])
    return {"engine": engine, "records": m["records"], "symbols": m["symbols"]["char"],
            "seconds": round(seconds, 2), "ray_start_s": None if startup is None else round(startup, 1),
            "shards": m.get("shards"), "rounds": m.get("rounds"),
            "shard_s_median": round(float(np.median(shard)), 2) if shard else None,
            "shard_s_sum": round(sum(shard), 2) if shard else None,
            "merge_s_total": m.get("merge_seconds"),
            "state_mib_per_merge": (round(m["state_bytes"] / 2**20, 2)
                                    if "state_bytes" in m else None),
            "max_abs_diff_vs_local": float(diff), "load_average_after": round(os.getloadavg()[0], 1)}


def merge_costs(units: int, symbols: int) -> list[dict]:
    """Per inspector: state bytes per merge, fork bytes, and the driver's merge time."""
    cat = catalog()
    texts = python_stdlib().select(range(200))["text"]
    hyps = cat.select("hypotheses", HYPOTHESES) + ngram_hypotheses(texts, 35)
    rng = np.random.default_rng(0)
    rows = []
    for name in ALL:
        cls = cat.get("inspectors", name)
        mine = [h for h in hyps if cls.accepts(h)]
        cols = [c for h in mine for c in h.columns]
        make = functools.partial(cls, units, cols, "cpu")
        x = torch.from_numpy(rng.normal(size=(2 * symbols, units)).astype(np.float32))
        y = torch.from_numpy(np.column_stack([_labels(h, 2 * symbols, rng) for h in mine]))
        with torch.inference_mode():
            first = make()
            for i in range(0, symbols, 2048):
                first.update(x[i:min(i + 2048, symbols)], y[i:min(i + 2048, symbols)])
            forked = fork_state(first, symbols)
            part = make() if forked is None else receive(make, forked)
            for i in range(symbols, 2 * symbols, 2048):
                part.update(x[i:i + 2048], y[i:i + 2048])
            sent = ship(part)
            times = []
            for _ in range(3):
                target = receive(make, ship(first))
                start = time.perf_counter()
                target.merge(receive(make, sent))
                times.append(time.perf_counter() - start)
        rows.append({"inspector": name, "units": units, "label_columns": len(cols),
                     "symbols_per_side": symbols,
                     "state_mib_per_merge": round(state_bytes(sent) / 2**20, 2),
                     "fork_mib": round(state_bytes(forked or {}) / 2**20, 2),
                     "merge_ms": round(1000 * float(np.median(times)), 1)})
        print(rows[-1], flush=True)
    return rows


def estimate(costs: pd.DataFrame, args) -> tuple[pd.DataFrame, str]:
    """Time and bytes for the cluster, per inspector set, from the measured merge costs
    (scaled from ``--units`` to SmolLM2's 1,152: linear in units, the linear probe's
    co-moments quadratic)."""
    ratio = 1152 / args.units
    scale = costs["inspector"].map(lambda n: ratio ** 2 if n == "linear_probe" else ratio)
    mib = (costs["state_mib_per_merge"] + costs["fork_mib"]) * scale
    merge_s = costs["merge_ms"] / 1000 * scale
    shards = args.tokens / args.shard_tokens
    compute_s = args.tokens / (args.nodes * args.node_tokens_per_s)
    shard_s = args.shard_tokens / args.node_tokens_per_s
    rows = []
    for label, names in (("correlation + mutual_info", INSPECTORS), ("all seven", ALL)):
        pick = costs["inspector"].isin(names)
        moved_gib = float(mib[pick].sum()) * shards / 1024
        rows.append({"inspectors": label, "shards": int(shards),
                     "compute_s (all nodes in parallel)": round(compute_s),
                     "shard_s": round(shard_s, 1),
                     "MiB per shard (state + fork)": round(float(mib[pick].sum()), 1),
                     "GiB to/from the driver": round(moved_gib, 1),
                     "driver network_s": round(moved_gib * 8 / args.gbit),
                     "driver merge_s (serial)": round(float(merge_s[pick].sum()) * shards)})
    return pd.DataFrame(rows), (
        f"{args.nodes} nodes × {args.node_tokens_per_s:,.0f} tokens/s over {args.tokens:.0e} "
        f"tokens in shards of {args.shard_tokens:.0e} tokens; driver on {args.gbit:g} Gbit/s")


def _labels(h, n: int, rng) -> np.ndarray:
    """Random labels of hypothesis ``h`` for ``n`` symbols: its label columns (n × columns)."""
    if h.kind == "categorical":
        return np.eye(len(h.classes), dtype=np.float32)[rng.integers(0, len(h.classes), n)]
    if h.kind == "binary":
        return (rng.random((n, 1)) < 0.2).astype(np.float32)
    return rng.normal(size=(n, 1)).astype(np.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--units", type=int, default=1024)
    p.add_argument("--symbols", type=int, default=20000)
    p.add_argument("--nodes", type=int, default=16)
    p.add_argument("--tokens", type=float, default=1e9)
    p.add_argument("--shard-tokens", type=float, default=1e6)
    p.add_argument("--node-tokens-per-s", type=float, default=35629)
    p.add_argument("--gbit", type=float, default=10)
    p.add_argument("--skip-end-to-end", action="store_true", help="only (b) and (c)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    where = machine(torch.device("cpu"))
    costs = pd.DataFrame(merge_costs(args.units, args.symbols))
    cluster, assumptions = estimate(costs, args)
    runs = pd.DataFrame([] if args.skip_end_to_end else end_to_end(args.records,
                                                                    args.batch_size))
    print(runs.to_string(index=False), cluster.to_string(index=False), sep="\n")
    OUT.mkdir(exist_ok=True)
    pd.concat([runs.assign(table="end_to_end"), costs.assign(table="merge"),
               cluster.assign(table="estimate")]).to_csv(OUT / "ray_engine.csv", index=False)
    machine_line = ", ".join(f"{k} {v}" for k, v in where.items())
    (OUT / "ray_engine.md").write_text(
        "# Ray engine: local cluster, merge costs, and an estimate for a cluster\n\n"
        f"Command: `python bench/ray_engine.py {' '.join(sys.argv[1:])}`\n\n"
        f"Machine at the start: {machine_line}; load average at the end "
        f"{os.getloadavg()[0]:.1f} (the 2 cores are shared with other developers' jobs).\n\n"
        "## (a) End to end: char-LSTM, 1,024 units, 55 hypotheses, correlation + MI\n\n"
        + runs.to_markdown(index=False) + "\n\n"
        f"## (b) Per merge, {args.units} units × 55 hypotheses, {args.symbols} symbols a side\n\n"
        + costs.to_markdown(index=False) + "\n\n"
        f"## (c) Estimate: {assumptions}\n\n" + cluster.to_markdown(index=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
