"""The planner: a script's statements compiled into the fewest engine passes, and run.

INSPECT statements over the same records (data set, filter, sample) and the same ablation,
whose inputs are known at the same time, share one pass: one :func:`hyplib.engine.inspect`
call, so each model runs once over the data for all of them (DeepBase's model merging) and
each hypothesis is annotated once. Within a pass every statement gets its own inspector
wrappers (:mod:`~hyplib.query.variants`), and its rows are cut out of the pass's table
afterwards. A model whose behaviours on those records are all in the behaviour cache is not
run at all. EVALUATE statements run their evaluation once each; FROM, JOIN and DIFF work on
results already computed.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..behaviour_cache import BehaviourStore, behaviour_key
from ..errors import HyplibError, UnknownNameError
from ..intervene import ablate
from ..results import COLUMNS, Result
from . import operators
from .bootstrap import REPLICATES, record_keys
from .conditions import apply_post
from .evaluate import evaluation_table
from .parse import QueryError, locate
from .session import Session
from .statements import Ablation, DataSpec, Diff, Evaluate, From, Inspect, Join, Statement
from .variants import box, variant, window


@dataclass
class Pass:
    """One engine pass (``kind`` "inspect") or one evaluation run (``"evaluate"``)."""

    number: int
    kind: str
    stage: int
    data: DataSpec
    ablation: Ablation | None
    statements: list[Statement] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def plan(statements: list[Statement]) -> tuple[list[Pass], dict[str, int]]:
    """The passes, in the order they run, and each statement's stage: a statement whose
    input (``UNITS OF x``, ``WITH ABLATE UNITS OF x``) comes from stage s runs at s + 1."""
    stage: dict[str, int] = {}
    passes: dict[tuple, Pass] = {}
    for s in statements:
        deps = [stage[d] for d in s.depends]
        q = s.query
        if isinstance(q, (Inspect, Evaluate)):
            stage[s.name] = 1 + max(deps, default=-1)
            key = ((stage[s.name], "inspect", q.data, q.ablation) if isinstance(q, Inspect)
                   else (stage[s.name], "evaluate", s.name))
            if key not in passes:
                passes[key] = Pass(0, key[1], stage[s.name], q.data, q.ablation)
            passes[key].statements.append(s)
        else:
            stage[s.name] = max(deps, default=0)
    ordered = sorted(passes.values(), key=lambda p: p.stage)
    for i, p in enumerate(ordered, 1):
        p.number = i
    return ordered, stage


def bootstrapped(statements: list[Statement]) -> dict[str, tuple[int, int]]:
    """The INSPECT/EVALUATE statements a DIFF reads (through FROM), with the replicates and
    seed they need."""
    by_name = {s.name: s for s in statements}
    need: dict[str, tuple[int, int]] = {}
    for s in statements:
        if not isinstance(s.query, Diff):
            continue
        want = (s.query.replicates or REPLICATES, s.query.seed)
        for name in (s.query.left, s.query.right):
            source = by_name[name]
            while isinstance(source.query, From):
                source = by_name[source.query.source]
            if isinstance(source.query, (Join, Diff)):
                raise QueryError(f"DIFF reads {name!r}, a {type(source.query).__name__.upper()} "
                                 f"result: DIFF compares INSPECT or EVALUATE results (directly "
                                 f"or through FROM)", s.line, 1)
            if need.get(source.name, want) != want:
                raise QueryError(f"{source.name!r} is read by DIFFs asking for different "
                                 f"BOOTSTRAP replicates or seeds: give them the same", s.line, 1)
            need[source.name] = want
    return need


def _known(expr, columns: list[str]) -> None:
    """Raise naming the first column ``expr`` reads that is not in ``columns``."""
    if not isinstance(expr, tuple):
        return
    if expr[0] in ("column", "qualified"):
        name = expr[1] if expr[0] == "column" else f"{expr[1]}.{expr[2]}"
        if name not in columns:
            raise UnknownNameError("column", name, columns, " (of the result)")
        return
    for part in expr[1:]:
        _known(part, columns)


class Runner:
    """Runs a script's passes and derived statements in order."""

    def __init__(self, statements: list[Statement], session: Session, text: str = ""):
        self.statements, self.text = statements, text
        self.session = session
        self.passes, self.stage = plan(statements)
        self.boot = bootstrapped(statements)
        self.columns: dict[str, list[str]] = {}
        for s in statements:
            self._with_line([s], self._check_columns, s)
            if isinstance(s.query, Inspect):  # names, before any data is loaded
                self._with_line([s], self.session.hypotheses, s.query.hypotheses)
                for spec in s.query.inspectors:
                    self._with_line([s], self.session.inspector, spec)

    def _check_columns(self, s: Statement) -> None:
        """Every column a statement's KEEP, ORDER BY, LIMIT ... PER or JOIN's WHERE names
        exists in its result, before anything runs."""
        q = s.query
        if isinstance(q, (Inspect, Evaluate)):
            cols = list(COLUMNS)
        elif isinstance(q, From):
            cols = self.columns[q.source]
        else:
            key = operators.key_columns(q.on)
            for side in (q.left, q.right):
                missing = [c for c in key if c not in self.columns[side]]
                if missing:
                    raise UnknownNameError("column", missing[0], self.columns[side],
                                           f" (ON pairs the rows of {side!r} on its columns)")
            if isinstance(q, Join):
                _known(q.where, self.columns[q.left])
                _known(q.where, self.columns[q.right])
                rest = [[f"{n}.{c}" for c in self.columns[n] if c not in key]
                        for n in (q.left, q.right)]
            else:
                rest = [[f"{n}.unit_name", f"{n}.score"] for n in (q.left, q.right)]
            cols = key + rest[0] + rest[1] + (["ci_low", "ci_high"] if isinstance(q, Diff) else [])
            cols += ["score"] if isinstance(q, Diff) else []
        post = q.post
        for expr in [post.keep] + [k.expr for k in post.order] + [("column", c) for c in post.per]:
            _known(expr, cols)
        self.columns[s.name] = cols

    # --- passes ------------------------------------------------------------------------
    def _targets(self, s: Statement) -> list[tuple[Any, str, tuple[int, ...] | None]]:
        """(model, layer, units or None) for every target of an INSPECT."""
        out = []
        for t in s.query.targets:
            if t.source:
                for (model, layer), units in self.session.units(t.source).items():
                    out.append((self.session.by_model_name(model), layer, units))
                continue
            m = self.session.model(t.model)
            layers = [t.layer] if t.layer else list(m.default_layers)
            if not layers:
                raise HyplibError(f"model {m.name!r} has no default layers: name one "
                                  f"({t.model.key}:LAYER)")
            out += [(m, layer, t.units) for layer in layers]
        return out

    def _ablation(self, ab: Ablation | None) -> dict:
        """``{model object: {layer: [indices]}}`` of an ablation."""
        chosen: dict = {}
        if ab is None:
            return chosen
        if ab.source:
            for (model, layer), units in self.session.units(ab.source).items():
                chosen.setdefault(self.session.by_model_name(model), {})[layer] = list(units)
        for ref, layer, idx in ab.units:
            chosen.setdefault(self.session.model(ref), {}).setdefault(layer, []).extend(idx)
        return chosen

    @contextlib.contextmanager
    def _ablated(self, ab: Ablation | None):
        with contextlib.ExitStack() as stack:
            for model, units in self._ablation(ab).items():
                stack.enter_context(ablate(model, units))
            yield

    def layout(self, p: Pass) -> dict:
        """What an inspect pass runs: models with layers, hypotheses, inspector variants,
        and per statement what it reads back."""
        targets = {s.name: self._targets(s) for s in p.statements}
        models: dict = {}
        for rows in targets.values():
            for m, layer, _ in rows:
                models.setdefault(m, [])
                if layer not in models[m]:
                    models[m].append(layer)
        names = [m.name for m in models]
        if len(set(names)) < len(names):
            raise HyplibError(f"two different models in one pass are both called "
                              f"{max(set(names), key=names.count)!r}: bind them under models "
                              f"with distinct .name")
        hyps, variants, per = {}, {}, {}
        for s in p.statements:
            q = s.query
            mine = self.session.hypotheses(q.hypotheses)
            hyps.update({h.name: h for h in mine})
            levels = sorted({h.level for h in mine})
            mask: set[str] = set()
            if q.projection and q.projection[0] in ("window", "box"):
                make = window if q.projection[0] == "window" else box
                for lv in levels:
                    h = make(*q.projection[1:], lv)
                    hyps[h.name] = h
                    mask.add(h.name)
            elif q.projection:
                (h,) = self.session.hypotheses([q.projection[1]])
                if h.kind != "binary":
                    raise HyplibError(f"WITHIN {h.name}: a projection needs a binary hypothesis "
                                      f"(symbols where it holds), not a {h.kind} one")
                if {x.level for x in mine} != {h.level}:
                    raise HyplibError(f"WITHIN {h.name} labels {h.level}s, but the statement's "
                                      f"hypotheses label {', '.join(levels)}s: project on a "
                                      f"hypothesis of their level")
                hyps[h.name] = h
                mask.add(h.name)
            keys: set[str] = set()
            reps, seed = self.boot.get(s.name, (0, 0))
            if reps:
                for lv in levels:
                    h = record_keys(lv)
                    hyps[h.name] = h
                    keys.add(h.name)
            chosen = []
            for spec in q.inspectors:
                base = self.session.inspector(spec)
                if not any(base.accepts(h) for h in mine):
                    kinds = ", ".join(f"{h.name} ({h.kind})" for h in mine[:5])
                    err = HyplibError(f"inspector {spec.name!r} accepts none of the "
                                      f"statement's hypotheses ({kinds}): choose another "
                                      f"(correlation takes every kind)")
                    err.name = spec.name  # where the error points
                    raise err
                vkey = (str(spec), q.projection, reps, seed)
                name = str(spec) + ("" if q.projection is None else
                                    f"|{q.projection[0]}{list(q.projection[1:])}") + \
                    ("" if not reps else "|boot")
                if vkey not in variants:
                    variants[vkey] = [base, name, set(), dict(spec.args), set(), set(), reps,
                                      seed]
                for i, names in ((2, {h.name for h in mine}), (4, mask), (5, keys)):
                    variants[vkey][i] |= names  # hypotheses, masks and keys of every level
                bases = [x.name for x in q.inspectors]
                shown = spec.name if bases.count(spec.name) == 1 else str(spec)
                chosen.append((name, shown, base))
            per[s.name] = {"targets": targets[s.name], "hypotheses": [h.name for h in mine],
                           "inspectors": chosen}
        classes = [variant(*v) for v in variants.values()]
        return {"models": models, "hypotheses": list(hyps.values()), "inspectors": classes,
                "statements": per}

    def cached(self, p: Pass, lay: dict, data) -> dict:
        """Per model: whether all its behaviours on ``data`` are in the behaviour cache."""
        levels = sorted({h.level for h in lay["hypotheses"]})
        hits = {}
        with self._ablated(p.ablation):
            for m, layers in lay["models"].items():
                if m.symbols != "text":  # only text behaviours are cached
                    hits[m] = False
                    continue
                key = behaviour_key(m)
                hits[m] = all(BehaviourStore(key, layer, data, lv, self.session.options["pool"],
                                             self.session.options["precision"]).reader is not None
                              for layer in layers for lv in levels)
        return hits

    def run_inspect(self, p: Pass) -> None:
        from ..engine import inspect

        lay = self.layout(p)
        data = self.session.dataset(p.data)
        hits = self.cached(p, lay, data)
        statements = [s.query for s in p.statements]
        tolerances = [q.tolerance for q in statements]
        tolerance = None if None in tolerances else min(tolerances)
        tops = [q.top_k for q in statements]
        top_k = None if tolerance is None or None in tops else max(tops)
        sample = p.data.sample
        opts = self.session.options
        start = time.perf_counter()
        with self._ablated(p.ablation):
            result = inspect(list(lay["models"]), data, lay["hypotheses"], lay["inspectors"],
                             {m.name: layers for m, layers in lay["models"].items()},
                             batch_size=opts["batch_size"], device=opts["device"],
                             seed=p.data.seed, max_records=sample if isinstance(sample, int)
                             else None, sample=sample if isinstance(sample, float) else None,
                             tolerance=tolerance, top_k=top_k, pool=opts["pool"],
                             precision=opts["precision"],
                             behaviour_cache=self.session.write_cache or (
                                 bool(hits) and all(hits.values())),
                             progress=opts["progress"], catalog=self.session.catalog)
        p.report = {"records": result.meta["records"], "records_total": len(data),
                    "stopped": result.meta["stopped"],
                    "seconds": round(time.perf_counter() - start, 3),
                    "models": {m.name: ("behaviour cache" if hits[m] else "forward")
                               for m in lay["models"]}}
        for s in p.statements:
            self.session.results[s.name] = self._cut(result, lay["statements"][s.name], p, s)

    def _cut(self, result: Result, mine: dict, p: Pass, s: Statement) -> Result:
        """A statement's rows of its pass's table, with its inspectors' own names."""
        t = result.table
        names = {v: shown for v, shown, _ in mine["inspectors"]}
        rows = t["inspector"].isin(list(names)) & t["hypothesis"].isin(mine["hypotheses"])
        t = t[rows.to_numpy()]
        whole = [(m.name, layer) for m, layer, units in mine["targets"] if units is None]
        some = [(m.name, layer, u) for m, layer, units in mine["targets"] if units is not None
                for u in units]
        chosen = pd.MultiIndex.from_frame(t[["model", "layer"]]).isin(whole) if whole else \
            np.zeros(len(t), dtype=bool)
        if some:
            chosen = chosen | pd.MultiIndex.from_frame(t[["model", "layer", "unit"]]).isin(some)
        t = t[chosen].assign(inspector=lambda f: f["inspector"].map(names))
        meta = dict(result.meta) | {"statement": s.text, "pass": p.number} | p.report
        meta["rank_by_abs"] = sorted({shown for _v, shown, base in mine["inspectors"]
                                      if getattr(base, "rank_by_abs", False)})
        if "replicates" in t.columns and t["replicates"].isna().all():
            t = t.drop(columns="replicates")
        return Result(apply_post(t.reset_index(drop=True), s.query.post), meta)

    def run_evaluate(self, p: Pass) -> None:
        (s,) = p.statements
        q: Evaluate = s.query
        fn = self.session.evaluations.get(q.name)
        if fn is None:
            raise UnknownNameError("evaluation", q.name, sorted(self.session.evaluations),
                                   " (evaluations are Python functions (model, records) -> one "
                                   "value per record, given to hyplib.query(evaluations=...))")
        model = self.session.model(q.model)
        data = self.session.dataset(q.data)
        order = np.random.default_rng(q.data.seed).permutation(len(data))
        if q.data.sample is not None:
            size = q.data.sample if isinstance(q.data.sample, int) else \
                int(np.ceil(q.data.sample * len(data)))
            data = data.select(np.sort(order[:size]))
        start = time.perf_counter()
        with self._ablated(q.ablation), torch.inference_mode():
            values = np.asarray(fn(model, data), dtype=np.float64).reshape(-1)
        if len(values) != len(data):
            raise HyplibError(f"evaluation {q.name!r} returned {len(values)} values for "
                              f"{len(data)} records: it must return one per record")
        reps, seed = self.boot.get(s.name, (REPLICATES, 0))
        table = evaluation_table(values, data, q, model.name, reps, seed)
        p.report = {"records": len(data), "records_total": len(data), "stopped": "end of data",
                    "seconds": round(time.perf_counter() - start, 3),
                    "models": {model.name: "forward (evaluation)"}}
        meta = {"statement": s.text, "pass": p.number, "rank_by_abs": []} | p.report
        self.session.results[s.name] = Result(apply_post(table, q.post), meta)

    # --- derived statements ----------------------------------------------------------
    def run_derived(self, s: Statement) -> None:
        q, res = s.query, self.session.results
        if isinstance(q, From):
            src = res[q.source]
            out = Result(apply_post(src.table, q.post), dict(src.meta) | {"statement": s.text})
        elif isinstance(q, Join):
            out = operators.join(res[q.left], res[q.right], q.on, q.where, (q.left, q.right))
            out = Result(apply_post(out.table, q.post), out.meta | {"statement": s.text})
        else:
            by_abs = set(res[q.left].meta.get("rank_by_abs", [])) | set(
                res[q.right].meta.get("rank_by_abs", []))
            out = operators.difference(res[q.left], res[q.right], q.on, q.best,
                                       (q.left, q.right), rank_by_abs=by_abs)
            out = Result(apply_post(out.table, q.post), out.meta | {"statement": s.text})
        res[s.name] = out

    def run(self) -> dict[str, Result]:
        derived = [s for s in self.statements if not isinstance(s.query, (Inspect, Evaluate))]
        for stage in sorted(set(self.stage.values())):
            for p in self.passes:
                if p.stage == stage:
                    self._with_line(p.statements, self.run_inspect if p.kind == "inspect"
                                    else self.run_evaluate, p)
            for s in derived:
                if self.stage[s.name] == stage:
                    self._with_line([s], self.run_derived, s)
        return self.session.results

    # --- EXPLAIN --------------------------------------------------------------------------
    def explain(self, names: set[str] | None = None) -> str:
        """The plan of the statements ``names`` and what they read (all when None): passes,
        models and layers (and whether the behaviour cache holds them), records, hypotheses
        (and whether their labels are cached), inspectors, then the statements over results."""
        by_name = {s.name: s for s in self.statements}
        needed, todo = set(), list(names if names is not None else by_name)
        while todo:
            n = todo.pop()
            if n not in needed:
                needed.add(n)
                todo += by_name[n].depends
        passes = [p for p in self.passes if any(s.name in needed for s in p.statements)]
        derived = [s for s in self.statements if s.name in needed
                   and not isinstance(s.query, (Inspect, Evaluate))]
        lines = [f"{len(needed)} of {len(self.statements)} statements -> {len(passes)} passes"
                 f" ({sum(p.kind == 'inspect' for p in passes)} inspect, "
                 f"{sum(p.kind == 'evaluate' for p in passes)} evaluate)"]
        for p in passes:
            lines += self._with_line(p.statements, self._explain_pass, p)
        for s in derived:
            lines.append(f"then {s.name}: {type(s.query).__name__.upper()} "
                         f"(line {s.line}, on results; no model runs)")
        return "\n".join(lines)

    def _explain_pass(self, p: Pass) -> list[str]:
        from ..annotation import label_path

        data = self.session.dataset(p.data)
        sample = p.data.sample
        size = len(data) if sample is None else min(len(data), sample) if isinstance(
            sample, int) else int(np.ceil(sample * len(data)))
        names = [s.name for s in p.statements]
        head = (f"pass {p.number} ({p.kind}, stage {p.stage}): over {p.data.describe()}: "
                f"{size} of {len(data)} records")
        if p.ablation:
            head += f"; WITH ABLATE {p.ablation.describe()}"
        out = [head, f"  statements: {', '.join(names)}"]
        if p.kind == "evaluate":
            q = p.statements[0].query
            return out + [f"  evaluation {q.name} of {q.model.key} (its own forward pass)"]
        waiting = [d for s in p.statements for d in s.depends if d not in self.session.results]
        if waiting:
            return out + [f"  targets/ablation: units of {', '.join(sorted(set(waiting)))} "
                          f"(known when stage {p.stage - 1} has run)"]
        lay = self.layout(p)
        hits = self.cached(p, lay, data)
        for m, layers in lay["models"].items():
            how = "behaviour cache (no forward pass)" if hits[m] else "one forward pass"
            out.append(f"  model {m.name}: layers {', '.join(layers)}: {how}")
        user = [h for h in lay["hypotheses"] if not h.name.startswith("query.")]
        cached = sum(label_path(data, h).exists() for h in user)
        out.append(f"  hypotheses ({len(user)}, labels cached: {cached}/{len(user)}): "
                   + ", ".join(h.name for h in user[:8]) + (", ..." if len(user) > 8 else ""))
        out.append(f"  inspectors: {', '.join(v.name for v in lay['inspectors'])}")
        stops = [(s.query.tolerance, s.query.top_k) for s in p.statements]
        if all(t is not None for t, _ in stops):
            out.append(f"  stop: tolerance {min(t for t, _ in stops)}")
        return out

    def _with_line(self, statements: list[Statement], fn, arg):
        """``fn(arg)``; a user error says where: at the unknown name in the first of
        ``statements`` that holds it, else at the first statement's start."""
        try:
            return fn(arg)
        except QueryError:
            raise
        except HyplibError as exc:
            name = str(getattr(exc, "name", ""))
            s = next((s for s in statements if name and name in self.text[s.span[0]:s.span[1]]),
                     statements[0])
            raise QueryError(str(exc), *locate(self.text, s, name)) from None
