"""The ``hyplib`` command line."""
from __future__ import annotations

import argparse
import ast
import sys
import traceback
import warnings

from . import __version__
from .errors import HyplibError, HyplibWarning
from .settings import POOLS, PRECISIONS
from .validate import check_inspector_args, check_number, check_out, check_pass


def _list(args) -> int:
    from .plugins import catalog

    cat = catalog()
    kinds = [args.what] if args.what != "all" else ["packs", "hypotheses", "inspectors", "models",
                                                    "datasets", "generators"]
    for kind in kinds:
        print(f"{kind}:")
        if kind == "packs":
            for p in cat.packs:
                status = "ok" if p.ok else f"BROKEN: {p.error}"
                print(f"  {p.name:<12} {p.dist} {p.version}  {status}")
            continue
        for name, pack, item in cat.entries(kind):
            detail = getattr(item, "description", "")
            if kind == "hypotheses":
                detail = f"{item.kind}, {item.level}" + (
                    f", {len(item.classes)} classes" if item.classes else "")
            print(f"  {name:<32} [{pack}] {detail}")
    return 0


def _load_data(spec: str):
    from pathlib import Path

    from .data import load_path
    from .plugins import catalog

    if Path(spec).exists():
        return load_path(spec)
    return catalog().get("datasets", spec).load()


def _params(items, flag: str, example: str) -> dict[str, dict]:
    """``NAME.PARAM=VALUE`` items as {name: {param: value}} (values as Python literals, else
    strings)."""
    out: dict[str, dict] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        owner, _, key = name.partition(".")
        if not key or not value:
            raise HyplibError(f"{flag} {item!r}: write NAME.PARAM=VALUE, e.g. {example}")
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass  # a plain string
        out.setdefault(owner, {})[key] = value
    return out


def _run(args, run, **extra):
    """Check the arguments, build the model and data they name, ``run(model, data,
    inspectors=..., layers=..., **options)`` (inspect or discover), save and summarise the
    result."""
    from .plugins import catalog

    check_pass(batch_size=args.batch_size, seed=args.seed, max_records=args.max_records,
               sample=args.sample, tolerance=args.tolerance, top_k=args.top_k,
               window=args.window)
    check_number("--top", args.top, integer=True, low=1)
    if args.out:
        check_out(args.out)
    cat = catalog()
    recipe = cat.get("models", args.model)
    inspectors = [cat.get("inspectors", name) for name in args.inspector]
    inspector_args = _params(args.inspector_arg, "--inspector-arg", "probe.k=20")
    for insp in inspectors:
        check_inspector_args(insp, inspector_args.get(insp.name, {}))
    engine_args = {k: v for k, v in (("workers", args.workers), ("address", args.address),
                                       ("checkpoint", args.checkpoint)) if v is not None}
    if engine_args and args.engine != "ray":
        raise HyplibError(f"--{next(iter(engine_args))} goes with --engine ray")
    data = _load_data(args.data)
    model = recipe.build(progress=not args.quiet)
    result = run(model, data, inspectors=inspectors, layers=args.layer or None,
                 inspector_args=inspector_args,
                 batch_size=args.batch_size, device=args.device, seed=args.seed,
                 max_records=args.max_records, sample=args.sample, tolerance=args.tolerance,
                 top_k=args.top_k, pool=args.pool, precision=args.precision,
                 behaviour_cache=args.behaviour_cache, progress=not args.quiet,
                 engine=args.engine, engine_args=engine_args, window=args.window, **extra)
    result.meta["sources"] = {"models": [args.model], "data": args.data}
    if args.out:
        print(f"wrote {result.save(args.out)}", file=sys.stderr)
    m = result.meta
    print(f"{args.model} on {args.data}: {m['records']} of {m['records_total']} records "
          f"({m['stopped']}), {sum(m['symbols'].values())} symbols, {m['seconds']:.1f}s on "
          f"{m['device']}" + (f", {m['workers']} Ray workers, {m['shards']} shards "
                              f"({len(m['redone'])} redone"
                              + (f"; resumed {m['resumed']})" if m["resumed"] else ")")
                              if m.get("engine") == "ray" else ""))
    return result


def _inspect(args) -> int:
    from .engine import inspect
    from .plugins import catalog

    hypotheses = catalog().select("hypotheses", args.hypotheses)
    result = _run(args, inspect, hypotheses=hypotheses)
    if args.fdr is not None:
        _show_discoveries(result, args.fdr, args.fdr_method, args.top)
        return 0
    top = result.top(args.top)
    _show(top)
    if top.empty:
        print("hyplib: error: nothing could be scored (every score is undefined): see the "
              "warnings above", file=sys.stderr)
        return 3
    return 0


def _show(rows) -> None:
    """Result rows (a pandas table) with their intervals, p- and q-values."""
    import pandas as pd

    rows = rows.assign(hypothesis=rows["hypothesis"]
                       + rows["label"].map(lambda s: f"={s}" if s else ""))
    cols = ["hypothesis", "inspector", "metric", "unit_name", "score", "ci_low", "ci_high", "p",
            "q"]
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.float_format", "{:.3f}".format):
        print(rows[cols].to_string(index=False, formatters={"p": _p_format, "q": _p_format}))


def _p_format(p: float) -> str:
    """A p- or q-value in two digits; below float64's smallest normal number, as a bound."""
    return "<1e-307" if p < 1e-307 and p >= 0 else f"{p:.2g}"


def _show_discoveries(result, fdr: float, method: str, top: int) -> None:
    """The discoveries at ``fdr``: how many among how many tests, and the ``top`` strongest
    per hypothesis (largest effect first; with many symbols nearly every association is
    significant, and the smallest p is not the largest effect)."""
    found = result.discoveries(fdr, method, order="effect")
    print(f"{len(found)} discoveries among {result.meta['tests']} tests at FDR {fdr} "
          f"({'Benjamini-Hochberg' if method == 'bh' else 'Benjamini-Yekutieli'}), "
          f"{found['unit_name'].nunique()} units, {found['hypothesis'].nunique()} hypotheses"
          + (f"; null |r| <= {delta}" if (delta := result.meta.get("min_effect")) else ""))
    _show(found.groupby(["hypothesis", "label"], sort=False).head(top))


def _discover(args) -> int:
    from .discovery import discover

    result = _run(args, discover, generators=args.generators, fdr=args.fdr,
                  method=args.fdr_method, cap=args.cap, min_count=args.min_count,
                  min_effect=args.min_effect,
                  generator_args=_params(args.generator_arg, "--generator-arg",
                                         "ngrams.n=(2,3,4)"))
    made = ", ".join(f"{name} {n}" for name, n in result.meta["generated"].items())
    print(f"generated {sum(result.meta['generated'].values())} hypotheses ({made})")
    _show_discoveries(result, args.fdr, args.fdr_method, args.top)
    return 0


def _add_fdr(p: argparse.ArgumentParser, default: float | None) -> None:
    p.add_argument("--fdr", type=float, default=default, metavar="Q",
                   help="show only the discoveries at this false discovery rate (q <= Q over "
                        "every test of the run), e.g. 0.05")
    p.add_argument("--fdr-method", default="bh", choices=["bh", "by"],
                   help="q-values by Benjamini-Hochberg, or Benjamini-Yekutieli (valid under "
                        "any dependence)")


def _repro(args) -> int:
    import pandas as pd

    from .plugins import catalog
    from .repro import run_study

    cat = catalog()
    if args.list or not args.name:
        for name, pack, study in cat.entries("studies"):
            print(f"{name:<16} [{pack}] {study.title}")
        return 0
    study = cat.get("studies", args.name)
    scale = "quick" if args.quick else args.scale
    table, folder, outcome = run_study(study, device=args.device, out=args.out,
                                       progress=not args.quiet, scale=scale, control=args.control)
    control = f", negative control: {args.control}" if args.control else ""
    print(f"{study.title} ({scale} run{control}); report: {folder}/report.md")
    if scale == "quick":
        print("smoke test: a tiny configuration; these verdicts carry no evidence about the paper")
    if args.control:
        print("negative control: every claim should fail; one that holds is a defect of the claim")
    with pd.option_context("display.max_colwidth", 70, "display.width", 200,
                           "display.float_format", "{:.3f}".format):
        print(table[["kind", "id", "criterion", "reproduced", "ci_low", "ci_high", "verdict"]]
              .to_string(index=False))
        if outcome.summary is not None:
            print()
            print(outcome.summary.to_string(index=False))
    return 0


def _pass_args(p: argparse.ArgumentParser) -> None:
    """The arguments of one pass: model, layers, data, inspectors, sampling, stopping."""
    p.add_argument("--model", required=True, help="model recipe name (see `hyplib list models`), "
                   "or hf:PATH-OR-HUB-ID for a Hugging Face model")
    p.add_argument("--layer", "--layers", action="extend", nargs="+", metavar="LAYER",
                   help="dotted layer names, e.g. features.14 (default: the model's own choice)")
    p.add_argument("--data", required=True, help="data set name or path (json/csv/parquet/txt)")
    p.add_argument("--inspector", "--inspectors", nargs="+", default=["correlation"])
    p.add_argument("--inspector-arg", action="append", metavar="INSPECTOR.PARAM=VALUE",
                   help="an inspector's parameter, e.g. probe.k=20 or iou.quantile=0.99")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda:0, ...")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-records", type=int, help="read at most N records (a seeded sample)")
    p.add_argument("--sample", type=float, metavar="FRACTION",
                   help="read this fraction of the records (a seeded sample)")
    p.add_argument("--tolerance", type=float, help="stop once every score (or, with --top-k, "
                   "the k best units per hypothesis) has an interval half-width below this; "
                   "each check spends a share of the error rate, so the intervals hold "
                   "whenever it stops")
    p.add_argument("--top-k", type=int, help="with --tolerance: only the k best units must "
                   "be known to the tolerance, and their set settled")
    p.add_argument("--pool", default="first", choices=POOLS,
                   help="how a symbol spanning several model positions gets its behaviour")
    p.add_argument("--precision", default="float32",
                   choices=PRECISIONS,
                   help="the models' arithmetic: IEEE float32, TF32 matrix units (CUDA), or "
                        "autocast to 16 bits (statistics stay float32/64)")
    p.add_argument("--behaviour-cache", action="store_true",
                   help="keep the behaviours on disk after a full pass; later queries on the "
                        "same model, layers and data skip the model")
    p.add_argument("--window", type=int, metavar="CHARS",
                   help="run a record longer than this many characters in pieces, so memory "
                        "follows the window (default 16384 for models that say how: "
                        "recurrent ones carry their state, exactly; attention ones see a left "
                        "context); 0: run records whole")
    p.add_argument("--engine", default="local", choices=["local", "ray"],
                   help="local: one process; ray: shards of records on a pool of Ray actors "
                        "(pip install 'hyplib[ray]')")
    p.add_argument("--workers", type=int, help="with --engine ray: actors (default: one per "
                   "CPU of the cluster, at most 16)")
    p.add_argument("--address", help="with --engine ray: the cluster (default: start a local "
                   "one), e.g. auto or ray://HOST:10001")
    p.add_argument("--checkpoint", metavar="FILE", help="with --engine ray: save the finished "
                   "shards' states here after every round; a rerun resumes from them")
    p.add_argument("--out", help="save the full table (.parquet or .csv)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hyplib", description=__doc__)
    p.add_argument("--version", action="version", version=f"hyplib {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an unexpected error")
    sub = p.add_subparsers(dest="command", required=True)

    ls = sub.add_parser("list", help="installed packs, hypotheses, inspectors, models, data sets")
    ls.add_argument("what", nargs="?", default="all",
                    choices=["all", "packs", "hypotheses", "inspectors", "models", "datasets",
                             "generators"])
    ls.set_defaults(func=_list)

    ins = sub.add_parser("inspect", help="score a model's units against hypotheses")
    _pass_args(ins)
    ins.add_argument("--hypotheses", nargs="+", required=True, metavar="GLOB",
                     help="hypothesis names or globs, e.g. 'grammar.python.*'")
    ins.add_argument("--top", type=int, default=3, help="units shown per hypothesis")
    _add_fdr(ins, None)
    ins.set_defaults(func=_inspect)

    dis = sub.add_parser("discover", help="generate hypotheses from the data and report the "
                         "unit-hypothesis pairs significant at a false discovery rate")
    _pass_args(dis)
    dis.add_argument("--generators", nargs="+", default=["*"], metavar="GLOB",
                     help="generator names or globs (default: every one that applies to the "
                          "data; see `hyplib list generators`)")
    dis.add_argument("--generator-arg", action="append", metavar="GENERATOR.PARAM=VALUE",
                     help="a generator's parameter, e.g. ngrams.n=(2,3,4)")
    dis.add_argument("--cap", type=int, default=100, help="at most this many hypotheses per "
                     "generator, the most frequent first")
    dis.add_argument("--min-count", type=int, default=20,
                     help="a generated hypothesis must label at least this many symbols")
    dis.add_argument("--min-effect", type=float, default=0.0, metavar="DELTA",
                     help="test |r| <= DELTA instead of r = 0, so that a discovery is an "
                          "association stronger than DELTA, e.g. 0.1 (correlations)")
    dis.add_argument("--top", type=int, default=1, help="units shown per hypothesis")
    _add_fdr(dis, 0.05)
    dis.set_defaults(func=_discover)

    rep = sub.add_parser("repro", help="reproduce a published study, claim by claim")
    rep.add_argument("name", nargs="?", help="study name (see --list)")
    rep.add_argument("--list", action="store_true", help="list the installed studies")
    rep.add_argument("--quick", action="store_true",
                     help="a smoke test at a tiny size (same as --scale quick)")
    rep.add_argument("--scale", default="full", choices=["quick", "full", "paper"],
                     help="full: the study's CPU size (default); paper: the paper's size (GPU)")
    rep.add_argument("--control", choices=["untrained", "shuffled"],
                     help="run as a negative control, where every claim should fail: "
                          "untrained networks, or labels shuffled between records")
    rep.add_argument("--device", default="auto")
    rep.add_argument("--out", default="repro", help="report folder root (default: repro/)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.set_defaults(func=_repro)

    from . import registry, scaffold
    from .query import cli as query_cli
    from .report import cli as report_cli

    registry.add_parser(sub)
    report_cli.add_parser(sub)
    scaffold.add_parser(sub)
    query_cli.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except HyplibError as exc:
        print(f"hyplib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hyplib: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # not hyplib's own: one line, the traceback on request
        if args.debug:
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"hyplib: error: {type(exc).__name__}: {exc} (in {where.name}, "
              f"{where.filename}:{where.lineno}; run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """hyplib's warnings as one line; others as Python shows them."""
    if issubclass(category, HyplibWarning):
        print(f"hyplib: warning: {message}", file=file or sys.stderr)
    else:
        _python_warning(message, category, filename, lineno, file, line)


_python_warning = warnings.showwarning


if __name__ == "__main__":
    sys.exit(main())
