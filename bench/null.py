"""Are the p-values honest on real text? The char-LSTM's units against labels that persist within
records but are drawn independently of the text, so that "no association" is true of every
pair: per inspector, the share of p-values at or below 0.05 and 0.001, robust to dependence
within records (the default) and for independent symbols (``dependence="none"``).

Each label is a seeded sticky process per record (a run goes on with probability ``--stay``,
0.99: runs of about 100 characters, like a string or a block of code), a hash of the label's
index and the record's text. Prints a Markdown table and writes ``bench/results/null.md``
(``.csv`` beside it).

    python bench/null.py [--records 400] [--labels 20] [--stay 0.99] [--batch-size 8]
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import hyplib
from hyplib.engine import Pass
from hyplib.plugins import catalog
from hyplib.results import as_list
from hyplib.significance import p_values
from machine import machine

OUT = Path(__file__).parent / "results"
INSPECTORS = ["correlation", "auc", "mutual_info", "iou"]


def sticky(k: int, stay: float) -> hyplib.Hypothesis:
    """Binary label ``k``: runs that go on with probability ``stay``, seeded by the text."""
    def fn(batch):
        out = []
        for text in batch["text"]:
            seed = int.from_bytes(hashlib.sha256(f"{k}:{text}".encode()).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            n = len(text)
            run = np.maximum.accumulate(np.where(rng.random(n) > stay, np.arange(n), 0))
            out.append(rng.integers(0, 2, n)[run].astype(bool).tolist())
        return out
    return hyplib.Hypothesis(f"bench.null.stay{round(stay * 1000)}.{k}", fn, kind="binary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=400)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--stay", type=float, default=0.99)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cat = catalog()
    model = cat.get("models", "charlm").build(progress=False)
    data = cat.get("datasets", "python-stdlib").load()
    hyps = [sticky(k, args.stay) for k in range(args.labels)]
    run = Pass.prepare(model, data, hyps, INSPECTORS, None, inspector_args={},
                       batch_size=args.batch_size, device="cpu", pool="first",
                       precision="float32", behaviour_cache=False, progress=False, catalog=cat,
                       pixel_budget=1 << 26)
    order = np.random.default_rng(0).permutation(len(data))[:args.records]
    state: dict = {}
    with torch.inference_mode():
        run.calibrate(data, len(order), state)
        for _ in run.stream(data, order, state, run.no_symbols()):
            pass
    rows = []
    for name in INSPECTORS:
        found = {d: [] for d in ("records", "none")}
        for key, insp in state.items():
            if key[3] == name:
                s = as_list(insp.scores())[0]
                for d in found:
                    found[d].append(p_values(insp, s, d).ravel())
        row = {"inspector": name, "metric": s.metric}
        for d, ps in found.items():
            p = np.concatenate(ps)
            p = p[~np.isnan(p)]
            row["tests"] = len(p)
            row[f"{d}_p<=0.05"] = round(float(np.mean(p <= 0.05)), 4)
            row[f"{d}_p<=0.001"] = round(float(np.mean(p <= 0.001)), 4)
        rows.append({**row, "records": len(order), "batches": -(-len(order) // args.batch_size),
                     "stay": args.stay, **machine(torch.device("cpu"))})
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    table.to_csv(OUT / "null.csv", index=False)
    (OUT / "null.md").write_text(table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()
