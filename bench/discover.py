"""``discover`` against ``inspect`` with the same hypotheses named by hand: what generating,
annotating and testing cost on top of the pass.

For each (model, data) it builds the model (with the user's cache, where trained models live),
then, with ``$HYPLIB_CACHE`` pointed at a fresh temporary folder each time, times
``generate`` alone, ``inspect`` with the generated hypotheses passed by hand (annotation from
cold, then the pass), and ``discover`` from scratch (generation, annotation, pass, p- and
q-values); the q-values of the table are also timed alone (the p-values are computed as
the pass ends, from the inspectors' states). The char models get every
generator that applies to their data, the word models ``tokens feats ud`` (a word model covers
words, not the characters between them). Prints a Markdown table and
writes ``bench/results/discover.md`` (``.csv`` beside it).

    python bench/discover.py [--max-records 400] [--models charlm wordlm]

At 400 records and the default batch of 32 records a pass has 13 batches, and the p-values
(robust to dependence within records: t on batches - 1 df) are weak; the timings do not depend
on it.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from hyplib.discovery import discover
from hyplib.engine import inspect
from hyplib.generation import generate
from hyplib.plugins import catalog
from hyplib.significance import q_values
from machine import machine

OUT = Path(__file__).parent / "results"
DATA = {"charlm": "python-stdlib", "charlm-tiny": "python-stdlib", "wordlm": "ud-english-ewt",
        "wordlm-tiny": "ud-english-ewt"}
WORD = ("tokens", "feats", "ud")  # a word model covers words, not the spaces between them
GENERATORS = {"charlm": ("*",), "charlm-tiny": ("*",), "wordlm": WORD, "wordlm-tiny": WORD}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def fresh_cache():
    folder = tempfile.TemporaryDirectory(prefix="hyplib-bench-")
    os.environ["HYPLIB_CACHE"] = folder.name
    return folder


def bench(name: str, max_records: int | None) -> dict:
    cat = catalog()
    model = cat.get("models", name).build(progress=False)
    data = cat.get("datasets", DATA[name]).load()
    user_cache = os.environ.get("HYPLIB_CACHE")
    kw = {"max_records": max_records, "progress": False, "device": "cpu"}
    try:
        with fresh_cache():
            made, t_generate = timed(lambda: generate(data, GENERATORS[name]))
            hyps = [h for hs in made.values() for h in hs]
            by_hand, t_inspect = timed(lambda: inspect(model, data, hyps, **kw))
        with fresh_cache():
            found, t_discover = timed(lambda: discover(model, data, GENERATORS[name], **kw))
    finally:
        os.environ.pop("HYPLIB_CACHE") if user_cache is None else os.environ.update(
            HYPLIB_CACHE=user_cache)
    t = found.table
    _, t_test = timed(lambda: q_values(t["p"].to_numpy()))
    return {"model": name, "data": DATA[name], "records": found.meta["records"],
            "symbols": sum(found.meta["symbols"].values()), "units": t["unit_name"].nunique(),
            "hypotheses": len(hyps), "tests": found.meta["tests"],
            "discoveries": found.meta["discoveries"], "generate_s": round(t_generate, 1),
            "inspect_s": round(t_inspect, 1), "discover_s": round(t_discover, 1),
            "q_s": round(t_test, 2), "pass_s": by_hand.meta["seconds"],
            **machine(torch.device("cpu"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["charlm", "wordlm"])
    parser.add_argument("--max-records", type=int, default=400)
    parser.add_argument("--name", default="discover")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = pd.DataFrame([bench(m, args.max_records) for m in args.models])
    print(table.to_markdown(index=False))
    table.to_csv(OUT / f"{args.name}.csv", index=False)
    (OUT / f"{args.name}.md").write_text(table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
