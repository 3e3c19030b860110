"""``hyplib query "..."`` and ``hyplib query -f analysis.hql``."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import HyplibError

SHOWN = ["hypothesis", "label", "inspector", "metric", "unit_name", "score", "ci_low", "ci_high",
         "n"]


def show(name: str, result, max_rows: int) -> str:
    """A result as text: inspection rows by unit name; other results' columns as they are."""
    import pandas as pd

    t = result.table.drop(columns=["replicates"], errors="ignore")
    if set(SHOWN) <= set(t.columns) and "statement" in result.meta:
        t = t[SHOWN]
    if "label" in t.columns and not t["label"].astype(bool).any():
        t = t.drop(columns="label")
    m = result.meta
    how = ""
    if "pass" in m:
        how = (f" (pass {m['pass']}: {m['records']} of {m['records_total']} records, "
               f"{m['stopped']}, {m['seconds']:.1f} s)")
    with pd.option_context("display.max_rows", max_rows, "display.width", 200,
                           "display.max_colwidth", 40, "display.float_format", "{:.3f}".format):
        body = t.to_string(index=False, max_rows=max_rows) if len(t) else "(no rows)"
    return f"{name}: {len(t)} rows{how}\n{body}"


def _cmd(args) -> int:
    from . import explain, parse, run

    if (args.text is None) == (args.file is None):
        raise HyplibError("give a query as one argument, or a script with -f FILE.hql")
    text = args.text if args.file is None else Path(args.file).read_text()
    options = dict(device=args.device, batch_size=args.batch_size, progress=not args.quiet,
                   behaviour_cache=args.behaviour_cache)
    start = time.perf_counter()
    statements = parse(text)
    if args.explain or any(s.explain for s in statements):
        print(explain(text, **options))
        return 0
    results = run(text, **options)
    names = list(results)
    read = {d for s in statements for d in s.depends}
    shown = [n for n in names if n not in read]  # the results no later statement reads
    for name in shown:
        print(show(name, results[name], args.max_rows))
        print()
    passes = {r.meta["pass"]: r.meta for r in results.values() if "pass" in r.meta}
    forward = sum(v.startswith("forward") for m in passes.values() for v in m["models"].values())
    print(f"{len(names)} statements, {len(passes)} passes ({forward} model forward passes), "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    if args.out:
        print(f"wrote {results[names[-1]].save(args.out)}", file=sys.stderr)
    return 0


def add_parser(subparsers) -> None:
    """Add ``hyplib query`` to the CLI's subcommands."""
    p = subparsers.add_parser("query", help="run an HQL query or script (INSPECT ... AGAINST "
                              "... OVER ...; JOIN, DIFF, WITH ABLATE, EXPLAIN)")
    p.add_argument("text", nargs="?", help="the query (quote it)")
    p.add_argument("-f", "--file", help="a script of statements separated by ';' (.hql)")
    p.add_argument("--explain", action="store_true", help="print the plan; run nothing")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--behaviour-cache", action="store_true",
                   help="keep the behaviours of full passes on disk for later queries")
    p.add_argument("--max-rows", type=int, default=40, help="rows shown per result")
    p.add_argument("--out", help="save the last result's table (.parquet or .csv)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd)
