"""HQL: declarative inspection (DeepBase's query language with i-Algebra's operators).

``hyplib.query("INSPECT charlm:lstm.1 AGAINST 'grammar.python.*' OVER python-stdlib")``
returns the last statement's :class:`~hyplib.results.Result`; :func:`run` returns every
named result of a script and :func:`explain` its plan. Names in a query are looked up in the
Python objects passed as ``models=``, ``data=``, ``hypotheses=`` and ``evaluations=`` first,
then among the installed packs. The grammar is ``hql.lark`` in this package.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from .parse import QueryError, parse

if TYPE_CHECKING:
    from ..results import Result

_OPERATORS = ("select", "join", "difference")  # from .operators (pandas), loaded on use

__all__ = ["query", "run", "explain", "parse", "QueryError", "select", "join", "difference"]


def _runner(text: str, options: dict):
    from .planner import Runner, Session  # torch and datasets: only when a query runs

    return Runner(parse(text), Session(**options), text)


def run(text: str, **options) -> dict[str, Result]:
    """Run a script; every statement's result by name (``LET name = ...``; unnamed ones are
    ``_1``, ``_2``, ... by position). Each result's ``meta`` says which pass made it and
    how (records, seconds, models run or read from the behaviour cache). Statements marked
    EXPLAIN are planned, not run: see :func:`explain`."""
    runner = _runner(text, options)
    if any(s.explain for s in runner.statements):
        raise QueryError("the script has EXPLAIN statements: call hyplib.query.explain() (or "
                         "`hyplib query`) to see the plan, or drop EXPLAIN to run it")
    return runner.run()


def explain(text: str, **options) -> str:
    """The plan of the statements marked EXPLAIN (of the whole script if none is): passes,
    models, layers, records, hypotheses, inspectors, cache hits. Loads the data and builds
    the models named (so that it can count records and check the caches); runs no pass."""
    runner = _runner(text, options)
    marked = {s.name for s in runner.statements if s.explain}
    return runner.explain(marked or None)


def query(text: str, **options) -> Result:
    """Run a script and return its last statement's result (see :func:`run`)."""
    results = run(text, **options)
    if not results:
        raise QueryError("the query has no statement: write e.g. INSPECT charlm AGAINST "
                         "'grammar.python.*' OVER python-stdlib")
    return results[list(results)[-1]]


class _CallableModule(types.ModuleType):
    """``hyplib.query(...)`` calls :func:`query`; the module's other names stay reachable, and
    importing it (``hyplib list`` does, for the command line) loads no pandas or torch."""

    def __call__(self, text: str, **options) -> Result:
        return query(text, **options)

    def __getattr__(self, name: str):
        if name in _OPERATORS:
            return getattr(importlib.import_module(".operators", __name__), name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _CallableModule
