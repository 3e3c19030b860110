"""``hyplib report`` and ``hyplib topo``."""
from __future__ import annotations

import sys
from pathlib import Path


def _models(names: list[str] | None, result) -> dict:
    """The models named (all must exist), else the result's own that the catalog knows."""
    from ..plugins import catalog

    cat = catalog()
    if not names:
        known = {name for name, _, _ in cat.entries("models")}
        names = [n for n in result.meta.get("sources", {}).get("models", []) if n in known]
    return {name: cat.get("models", name).build(progress=False) for name in names}


def _report(args) -> int:
    from ..cli import _load_data
    from ..results import Result
    from . import write

    result = Result.load(args.result)
    sources = result.meta.get("sources", {})
    spec = args.data or sources.get("data")
    models = _models(args.model, result) if spec else {}
    data = _load_data(spec) if spec else None
    out = Path(args.out or Path(args.result).with_suffix("").name + "-report")
    index = write(result, out, models=models, data=data, records=args.records,
                  per_hypothesis=args.per_hypothesis, max_units=args.max_units,
                  device=args.device, progress=not args.quiet)
    if data is None:
        print("no data given (--data, --model): unit pages show scores only", file=sys.stderr)
    print(f"wrote {index}")
    return 0


def _topo(args) -> int:
    from ..cli import _load_data
    from ..plugins import catalog
    from . import topo

    model = catalog().get("models", args.model).build(progress=not args.quiet)
    data = _load_data(args.data)
    out = args.out or f"topo/{model.name}-{args.layer}.html"
    graph, path = topo(model, data, args.layer, args.hypothesis, out, records=args.records,
                       points=args.points, lens=args.lens, intervals=args.intervals,
                       overlap=args.overlap, eps=args.eps, min_samples=args.min_samples,
                       seed=args.seed, device=args.device)
    s, p = graph.summary(), graph.params
    print(f"{model.name}:{args.layer}: {p['points']} vectors from {args.records} records; "
          f"{s['nodes']} nodes, {s['edges']} edges, {s['components']} components, "
          f"{s['cycles']} cycles (eps {p['eps']:.3g})")
    print(f"wrote {path}")
    return 0


def add_parser(sub) -> None:
    rep = sub.add_parser("report", help="a browsable HTML report of a saved result")
    rep.add_argument("result", help="a result saved by `hyplib inspect --out` (.parquet/.csv)")
    rep.add_argument("--out", help="report folder (default: RESULT-report)")
    rep.add_argument("--model", "--models", nargs="+", help="model recipes to re-run for the "
                     "unit pages (default: those the result was made with)")
    rep.add_argument("--data", help="data set name or path (default: the result's)")
    rep.add_argument("--records", type=int, default=200,
                     help="records re-run for the unit pages (a seeded sample)")
    rep.add_argument("--per-hypothesis", type=int, default=3,
                     help="units with a page per hypothesis column")
    rep.add_argument("--max-units", type=int, default=60, help="at most this many unit pages")
    rep.add_argument("--device", default="auto")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.set_defaults(func=_report)

    top = sub.add_parser("topo", help="TopoAct: the mapper graph of a layer's activations")
    top.add_argument("--model", required=True)
    top.add_argument("--layer", required=True)
    top.add_argument("--data", required=True)
    top.add_argument("--hypothesis", help="colour nodes by this hypothesis' dominant label")
    top.add_argument("--out", help="HTML page (default: topo/MODEL-LAYER.html); put it in a "
                     "report's topo/ folder to link it from the report")
    top.add_argument("--records", type=int, default=200, help="records sampled (seeded)")
    top.add_argument("--points", type=int, default=5000, help="activation vectors kept")
    top.add_argument("--lens", default="l2norm", choices=["l2norm", "pca"])
    top.add_argument("--intervals", type=int, default=10, help="cover intervals")
    top.add_argument("--overlap", type=float, default=0.3, help="cover overlap, a fraction")
    top.add_argument("--eps", type=float, help="DBSCAN radius (default: the largest distance "
                     "to the MIN_SAMPLES-th nearest neighbour)")
    top.add_argument("--min-samples", type=int, default=3)
    top.add_argument("--seed", type=int, default=0)
    top.add_argument("--device", default="auto")
    top.add_argument("--quiet", action="store_true", help="no progress bars")
    top.set_defaults(func=_topo)
