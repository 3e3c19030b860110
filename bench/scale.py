"""Scale curves: how inspection cost and memory grow with symbols, units and hypotheses.

Each point runs in its own process (so its peak RSS is its own) and times, on the same records,
the bare forward pass and hyplib's ``inspect`` (correlation + mutual information by default,
annotations cached beforehand), and the forward pass with the inspected layers recorded
(which, for the char-LSTM's cell states, computes them). Three curves:

- ``symbols``: the trained char-LSTM, all four layers (h and c of both: 1,024 units), the
  grammar + text hypotheses, on 10k → 1M characters of Python source. ``inspect``'s peak RSS
  across a 10× growth of the data is the memory-bound check (target: ≤ 5% growth). It is the
  process's peak from the start of ``inspect`` (reset through ``/proc/self/clear_refs``, the
  heap trimmed after the baseline passes, which run whole records and keep the longest
  batch's heap); ``baseline_peak_rss_mib`` is the process's peak during those passes.
- ``units``: a cheap wide model (character embeddings mixed by a depthwise convolution, so the forward
  pass costs little and hyplib's own cost dominates) with 256 → 4,096 units, 100k characters.
- ``hypotheses``: the char-LSTM's 1,024 units against 10 → 500 binary hypotheses
  (one per frequent character n-gram), 100k characters.

Writes ``bench/results/scale.md`` and ``.csv``.

    python bench/scale.py [--curves symbols units hypotheses] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from memory import reset_peak, rss_mib
from torch import nn

OUT = Path(__file__).parent / "results"
CURVES = {"symbols": [10_000, 100_000, 1_000_000], "units": [256, 1024, 4096],
          "hypotheses": [10, 50, 100, 500]}
QUICK = {"symbols": [10_000, 50_000], "units": [256, 1024], "hypotheses": [10, 50]}


class Mix(nn.Module):
    """A depthwise convolution over a 5-character window, (batch, positions, units) in and out."""

    def __init__(self, units: int):
        super().__init__()
        self.conv = nn.Conv1d(units, units, 5, padding=2, groups=units)

    def forward(self, x):
        return torch.tanh(self.conv(x.transpose(1, 2))).transpose(1, 2)


class Wide(nn.Module):
    """Per-character embeddings mixed over a window: layer ``mix`` has ``units`` units."""

    def __init__(self, units: int):
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(129, units)
        self.mix = Mix(units)

    def forward(self, ids):
        return self.mix(self.embed(ids))


def wide_model(units: int):
    from hyplib.models import Encoded, TextModel, char_spans

    class WideModel(TextModel):
        def encode(self, texts):
            lengths = np.array([len(t) for t in texts])
            ids = np.full((len(texts), max(lengths.max(), 1)), 128, dtype=np.int64)
            for i, t in enumerate(texts):
                codes = np.frombuffer(t.encode("utf-32-le"), dtype=np.uint32)
                ids[i, :len(t)] = np.minimum(codes, 127)
            return Encoded({"ids": torch.from_numpy(ids)}, char_spans(lengths, ids.shape[1]))

    return WideModel(f"wide{units}", Wide(units), ("mix",))


def ngram_hypotheses(texts: list[str], n: int):
    """``n`` binary hypotheses: the symbol ends one of the most frequent 1-, 2- and 3-grams."""
    from hyplib.types import hypothesis

    counts = Counter()
    for t in texts[:200]:
        for k in (1, 2, 3):
            counts.update(t[i:i + k] for i in range(len(t) - k + 1))
    grams = [g for g, _ in counts.most_common() if g.strip()][:n]

    def make(gram):
        k = len(gram)

        @hypothesis(f"bench.ends.{gram.encode().hex()}", kind="binary", level="char")
        def ends(text):
            hits = np.zeros(len(text), dtype=np.float32)
            start = text.find(gram)
            while start >= 0:
                hits[start + k - 1] = 1
                start = text.find(gram, start + 1)
            return hits
        return ends

    return [make(g) for g in grams]


def records_for(data, symbols: int):
    """The shortest prefix of a seeded order holding at least ``symbols`` characters."""
    order = np.random.default_rng(0).permutation(len(data))
    lengths = np.array([len(t) for t in data.select(order)["text"]])
    n = int(np.searchsorted(np.cumsum(lengths), symbols)) + 1
    if n > len(data):
        raise SystemExit(f"the data holds {lengths.sum()} characters, fewer than {symbols}")
    return data.select(order[:n])


def point(curve: str, size: int, inspectors: list[str], batch_size: int) -> dict:
    """Measure one point in this process."""
    from hyplib_zoo.stdlib import python_stdlib

    from hyplib.annotation import annotate
    from hyplib.engine import _trim_heap, inspect
    from hyplib.extract import record
    from hyplib.plugins import catalog

    cat = catalog()
    # one source for every point of a curve, so that points differ only in size
    data = python_stdlib("train" if curve == "symbols" else "test")
    data = records_for(data, size if curve == "symbols" else 100_000)
    if curve == "units":
        model, layers = wide_model(size), ["mix"]
    else:
        model = cat.get("models", "charlm").build(progress=False)
        layers = ["lstm.0", "lstm.1", "cells.0", "cells.1"]
    hyps = (ngram_hypotheses(data["text"], size) if curve == "hypotheses"
            else cat.select("hypotheses", ["grammar.python.*", "grammar.brackets.*", "text.*"]))
    annotate(data, hyps, progress=False)
    texts = data["text"]

    def forward(recorded=()):
        start = time.perf_counter()
        with torch.inference_mode(), record(model.module, recorded):
            for lo in range(0, len(texts), batch_size):
                model.forward(model.encode(texts[lo:lo + batch_size]), torch.device("cpu"))
        return time.perf_counter() - start

    bare, recording = forward(), forward(layers)
    # inspect's own peak: the baseline passes (whole records, untrimmed heap) are not its
    baseline_peak = rss_mib("VmHWM")
    _trim_heap()
    rss_before = rss_mib()
    reset_peak()
    start = time.perf_counter()
    result = inspect(model, data, hyps, inspectors, layers, batch_size=batch_size,
                     device="cpu", progress=False)
    seconds = time.perf_counter() - start
    peak = rss_mib("VmHWM")
    units = int(result.table.query("unit >= 0").groupby("layer")["unit"].max().add(1).sum())
    return {"curve": curve, "size": size, "records": len(data),
            "symbols": result.meta["symbols"]["char"], "units": units,
            "label_columns": sum(len(h.columns) for h in hyps), "forward_s": round(bare, 2),
            "forward_recording_layers_s": round(recording, 2), "hyplib_s": round(seconds, 2),
            "hyplib_over_forward": round(seconds / bare, 2),
            "hyplib_over_forward_recording": round(seconds / recording, 2),
            "symbols_per_s": round(result.meta["symbols"]["char"] / seconds),
            "rss_before_inspect_mib": round(rss_before),
            "peak_rss_mib": round(peak),
            "baseline_peak_rss_mib": round(baseline_peak),
            "load_average": round(os.getloadavg()[0], 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curves", nargs="+", choices=list(CURVES), default=list(CURVES))
    p.add_argument("--inspectors", nargs="+", default=["correlation", "mutual_info"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="two small points per curve")
    p.add_argument("--point", nargs=2, metavar=("CURVE", "SIZE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.point:
        row = point(args.point[0], int(args.point[1]), args.inspectors, args.batch_size)
        print(json.dumps(row))
        return 0
    rows = []
    for curve in args.curves:
        for size in (QUICK if args.quick else CURVES)[curve]:
            cmd = [sys.executable, __file__, "--point", curve, str(size), "--batch-size",
                   str(args.batch_size), "--inspectors", *args.inspectors]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return done.returncode
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    kept = OUT / "scale.csv"
    if not args.quick and kept.exists():  # the curves not run now keep their last results
        old = pd.read_csv(kept)
        kept_rows = old[~old["curve"].isin(args.curves)].reindex(columns=table.columns)
        table = pd.concat([kept_rows, table], ignore_index=True)
        table = table.sort_values("curve", key=lambda c: c.map(list(CURVES).index), kind="stable")
    sym = table[table["curve"] == "symbols"].set_index("size")["peak_rss_mib"]
    notes = []
    if {100_000, 1_000_000} <= set(sym.index):
        growth = sym[1_000_000] / sym[100_000] - 1
        notes.append(f"inspect's peak RSS, 100k → 1M characters (10× the data): {sym[100_000]} → "
                     f"{sym[1_000_000]} MiB, {growth:+.1%}.")
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "scale.csv", index=False)
    (OUT / "scale.md").write_text(
        "# Scale curves: symbols, units, hypotheses\n\n"
        f"Command: `python bench/scale.py {' '.join(sys.argv[1:])}` "
        f"(inspectors: {' + '.join(args.inspectors)}; {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads); curves not named there keep the rows of "
        f"their last run\n\n"
        + table.to_markdown(index=False) + "\n\n" + "\n".join(notes) + "\n")
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
