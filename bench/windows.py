"""Huge records: memory and time of one pass over a single record of millions of characters,
run whole (``--window 0``, as before windows) and in windows (the default, 16,384 characters).

The model is charlm's architecture at its default size (2 LSTM layers of 256 units, both
layers inspected) with its seeded initial weights: memory and time do not depend on the
weights, and the trained checkpoint is not needed. Run whole, it needs about 8 KiB per
character, so whole runs are skipped past ``--whole-max`` characters (default 400,000) on a
machine that others share. The record is Python standard-library
source, concatenated. The hypotheses (text.is_space, text.is_digit) are annotated before the
measurement; peak RSS is the pass's own (reset before it), each point in its own process.

Writes ``bench/results/windows.md`` and ``.csv``.

    python bench/windows.py [--chars 300000 3000000] [--windows 0 16384] [--whole-max N]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

OUT = Path(__file__).parent / "results"


def child(chars: int, window: int) -> dict:
    import datasets
    import torch

    from hyplib import inspect
    from hyplib.annotation import annotate
    from hyplib.plugins import catalog
    from hyplib_zoo.charlm import CharLM, CharLMConfig, CharLSTM
    from hyplib_zoo.stdlib import read_source, stdlib_files
    sys.path.insert(0, str(Path(__file__).parent))
    from memory import reset_peak, rss_mib

    torch.manual_seed(0)
    model = CharLM("charlm", CharLSTM(CharLMConfig()), ("lstm.0", "lstm.1"))
    parts, total = [], 0
    for path in stdlib_files("all"):
        text = read_source(path) or ""
        parts.append(text[:chars - total])
        total += len(parts[-1])
        if total >= chars:
            break
    data = datasets.Dataset.from_dict({"text": ["".join(parts)]})
    hyps = catalog().select("hypotheses", ["text.is_space", "text.is_digit"])
    annotate(data, hyps, progress=False)
    reset_peak()
    base = rss_mib()
    start = time.perf_counter()
    result = inspect(model, data, hyps, window=window, device="cpu", progress=False)
    return {"chars": len(data[0]["text"]), "window": window or "whole",
            "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_over_start_mib": round(rss_mib("VmHWM") - base, 1),
            "symbols": result.meta["symbols"]["char"],
            "top_r": round(float(result.table["score"].abs().max()), 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chars", type=int, nargs="+", default=[300_000, 3_000_000])
    p.add_argument("--whole-max", type=int, default=400_000)
    p.add_argument("--windows", type=int, nargs="+", default=[0, 16_384])
    p.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from memory import machine

    rows = []
    for chars in args.chars:
        for window in args.windows:
            if window == 0 and chars > args.whole_max:
                continue
            proc = subprocess.run([sys.executable, __file__, "--child", str(chars), str(window)],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            else:
                tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:160]
                rows.append({"chars": chars, "window": window or "whole",
                             "error": f"exit {proc.returncode}: {tail}"})
            print(rows[-1], file=sys.stderr)
    table = pd.DataFrame(rows)
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "windows.csv", index=False)
    command = "python bench/windows.py " + " ".join(sys.argv[1:])
    (OUT / "windows.md").write_text(
        f"# Huge records: whole vs windows\n\n`{command}`\n\n{machine()}\n\n"
        f"{table.to_markdown(index=False)}\n\nWhole runs of more than {args.whole_max:,} "
        f"characters are skipped (about 8 KiB per character here).\n")


if __name__ == "__main__":
    main()
