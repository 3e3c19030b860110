"""HQL on real models: three analyses as queries, their plans, pass counts, forward calls and
runtimes, against the same statements run one script each (no merging).

Models: lakretz2019's word LSTM LM (2 × 64 units) trained on the agreement grammar, and the
same recipe with seed 1 (another corpus sample and initialisation); both cached after their
first training. Data: the first model's held-out sentences. The analyses:

- trained vs untrained: both INSPECTs share one pass; DIFF BEST puts a paired-bootstrap
  interval on the best |r|'s gain (also: the two INSPECTs as two scripts, without the DIFF's
  bootstrap, and with the behaviour cache written, then present; the cache runs use an empty
  cache folder, removed afterwards);
- a join across the two trained models: the units of each that carry the subject's number;
- two statements on one model (merged: the model runs once), against one script each;
- what-if: agreement accuracy intact and with the top number units ablated, and the drop.

    python bench/query.py [--device cpu]

Times are the best of 3 runs (the cache-writing run: 1). Writes ``bench/results/query.md`` (the queries, their output, EXPLAIN, the timings) and
``query.csv`` (the timings).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

OUT = Path(__file__).parent / "results"
NUMBER, DEPTH = "grammar.agreement.subject_number", "grammar.agreement.depth"

TRAINED_VS_UNTRAINED = f"""
LET trained = INSPECT lakretz AGAINST {NUMBER}, {DEPTH} OVER test;
LET untrained = INSPECT UNTRAINED lakretz AGAINST {NUMBER}, {DEPTH} OVER test;
DIFF BEST trained, untrained ON hypothesis"""

JOIN = f"""
LET a = INSPECT lakretz AGAINST {NUMBER} OVER test;
LET b = INSPECT lakretz-b AGAINST {NUMBER} OVER test;
JOIN a, b ON hypothesis WHERE |score| > 0.65"""

# two statements on one model: merged, the model runs once over the data
SAME_MODEL = f"""
LET number = INSPECT lakretz AGAINST {NUMBER} OVER test;
LET depth = INSPECT lakretz AGAINST {DEPTH} OVER test"""

WHAT_IF = f"""
LET number = INSPECT lakretz AGAINST {NUMBER} OVER test ORDER BY |score| DESC LIMIT 4;
LET intact = EVALUATE agreement OF lakretz OVER test BY condition;
LET ablated = EVALUATE agreement OF lakretz OVER test BY condition WITH ABLATE UNITS OF number;
DIFF intact, ablated ON hypothesis"""


class Counter:
    """Forward calls of every LSTM LM module, the untrained copies' too (deepcopy keeps a
    module's hooks, and a plain function is not copied with them)."""

    def __init__(self, *models):
        self.calls = 0

        def hook(*_):
            self.calls += 1

        for m in models:
            m.module.register_forward_hook(hook)


def _table(result, columns=None) -> str:
    t = result.table.drop(columns=["replicates"], errors="ignore")
    t = t[columns] if columns else t
    return t.to_markdown(index=False, floatfmt=".3f")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from hyplib_grammar.lakretz import LakretzConfig, _agreement, load, test_set

    from hyplib import pick_device, query

    sys.path.insert(0, str(Path(__file__).parent))
    from machine import machine

    dev = pick_device(args.device)
    cfg = LakretzConfig()
    model = load(cfg, progress=False)
    other = load(dataclasses.replace(cfg, lm=dataclasses.replace(cfg.lm, seed=1)),
                 name="lakretz-b", progress=False)
    data, deps = test_set(cfg, 6000)
    for field in ("verb", "verb_word", "condition"):
        data = data.add_column(field, deps[field].tolist())
    counter = Counter(model, other)
    options = dict(models={"lakretz": model, "lakretz-b": other}, data={"test": data},
                   evaluations={"agreement": _agreement}, device=dev, progress=False)
    query.run(f"INSPECT lakretz AGAINST {NUMBER}, {DEPTH} OVER test", **options)  # warm-up

    def timed(text, repeats=3, **extra):
        """The results, and the best of ``repeats`` runs' times (the machine is shared)."""
        seconds = []
        for _ in range(repeats):
            counter.calls = 0
            start = time.perf_counter()
            results = query.run(text, **options | extra)
            seconds.append(time.perf_counter() - start)
        seconds = min(seconds)
        passes = {r.meta["pass"] for r in results.values() if "pass" in r.meta}
        return results, {"seconds": round(seconds, 2), "passes": len(passes),
                         "forward_calls": counter.calls}

    rows, sections = [], []
    for name, text, shown in (("trained vs untrained", TRAINED_VS_UNTRAINED, None),
                              ("join across two models", JOIN,
                               ["hypothesis", "a.unit_name", "a.score", "b.unit_name",
                                "b.score"]),
                              ("what-if ablation", WHAT_IF, None)):
        results, figures = timed(text)
        rows.append({"analysis": name, "run": "one script (planned)"} | figures)
        last = results[list(results)[-1]]
        sections += [f"### {name}", "", "```", text.strip(), "```", "",
                     _table(last, shown), ""]
        if name == "what-if ablation":
            sections += ["number units:", "", _table(results["number"], [
                "unit_name", "score", "ci_low", "ci_high"]), ""]
    for name, text in (("trained vs untrained", TRAINED_VS_UNTRAINED),
                       ("two statements, one model", SAME_MODEL)):
        inspects = text.strip().split(";")[:2]
        if name != "trained vs untrained":
            _, figures = timed(";".join(inspects))
            rows.append({"analysis": name, "run": "one script (planned)"} | figures)
        separate = {"seconds": 0.0, "passes": 0, "forward_calls": 0}
        for statement in inspects:  # one script each: no merging
            _, figures = timed(statement.split("=", 1)[1])
            separate = {k: round(separate[k] + figures[k], 2) for k in separate}
        rows.append({"analysis": name, "run": "one script per statement"} | separate)
    no_diff = ";".join(TRAINED_VS_UNTRAINED.strip().split(";")[:2])
    _, figures = timed(no_diff)
    rows.append({"analysis": "trained vs untrained", "run": "one script, no DIFF (no bootstrap)"}
                | figures)
    plan = query.explain(TRAINED_VS_UNTRAINED, **options)
    os.environ["HYPLIB_CACHE"] = tempfile.mkdtemp(prefix="hyplib-bench-query-")  # empty
    try:
        _, figures = timed(no_diff, repeats=1, behaviour_cache=True)
        rows.append({"analysis": "trained vs untrained", "run": "writing the behaviour cache"}
                    | figures)
        _, figures = timed(no_diff)
        rows.append({"analysis": "trained vs untrained", "run": "behaviour cache present"}
                    | figures)
    finally:
        shutil.rmtree(os.environ.pop("HYPLIB_CACHE"))
    table = pd.DataFrame(rows).assign(**machine(dev))
    OUT.mkdir(exist_ok=True)
    table.to_csv(OUT / "query.csv", index=False)
    words = int(sum(len(w) for w in data["words"]))
    text = [f"# HQL on lakretz2019's word LSTM: {len(data)} held-out sentences, {words} words",
            "", f"Machine: {machine(dev)}", "", table.drop(columns=list(machine(dev)))
            .to_markdown(index=False), "", "## EXPLAIN (trained vs untrained)", "", "```",
            plan, "```", "", "## The analyses", "", *sections]
    (OUT / "query.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
