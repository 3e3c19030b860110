"""Studies: published analyses packaged with their claims, run and judged claim by claim.

A pack contributes studies through the ``hyplib_studies`` hook. A study's ``run`` trains or
loads its models, inspects them, and returns named figures; each :class:`Claim` compares one
figure with a threshold fixed before running. ``hyplib repro NAME`` writes a report folder
(``report.md``, ``claims.json``, tables as CSV, PNG/HTML figures) and prints the claims table.
"""
from __future__ import annotations

import contextlib
import json
import math
import operator
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from .cache import atomic_path
from .provenance import provenance

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
VERDICTS = ("held", "not held", "not applicable")


@dataclass(frozen=True)
class Claim:
    """A published statement and the test of it: ``value(figure) op threshold``."""

    id: str
    statement: str
    figure: str
    op: str
    threshold: float
    published: str = ""

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"claim {self.id!r}: op must be one of {list(OPS)}")

    @property
    def criterion(self) -> str:
        return f"{self.figure} {self.op} {self.threshold:g}"


@dataclass
class Outcome:
    """What a study's run measured: named figures, tables to save, figure files, notes, and a
    short ``summary`` table printed after the claims."""

    figures: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame | None = None


@dataclass
class Context:
    """How to run: ``quick`` is a tiny configuration for tests; files go under ``out``."""

    quick: bool
    device: str
    out: Path
    progress: bool = True
    seed: int = 0


@dataclass(frozen=True)
class Study:
    """A packaged published analysis."""

    name: str
    title: str
    reference: str
    summary: str
    run: Callable[[Context], Outcome]
    claims: tuple[Claim, ...]
    deviations: tuple[str, ...] = ()
    runtime: str = ""


@dataclass
class Verdict:
    id: str
    statement: str
    published: str
    criterion: str
    reproduced: float | None
    verdict: str
    why: str


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread: studies of tiny models on a busy CPU are many times faster so."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def judge(claim: Claim, figures: dict[str, float]) -> Verdict:
    """Apply one claim's criterion to the measured figures."""
    value = figures.get(claim.figure)
    base = dict(id=claim.id, statement=claim.statement, published=claim.published,
                criterion=claim.criterion)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        why = "the study did not measure it" if value is None else "the figure is undefined (NaN)"
        return Verdict(**base, reproduced=None, verdict="not applicable", why=why)
    held = OPS[claim.op](value, claim.threshold)
    return Verdict(**base, reproduced=float(value), verdict="held" if held else "not held",
                   why=f"{value:.4g} {'meets' if held else 'misses'} {claim.criterion}")


def run_study(study: Study, quick: bool = False, device: str = "auto", out: str | Path = "repro",
              progress: bool = True) -> tuple[pd.DataFrame, Path, Outcome]:
    """Run ``study``, write its report folder; return the claims table, folder and outcome."""
    folder = Path(out) / study.name
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with one_thread():  # on a few CPU cores torch's default threads oversubscribe them
        outcome = study.run(Context(quick, device, folder, progress))
    seconds = time.perf_counter() - start
    verdicts = [judge(c, outcome.figures) for c in study.claims]
    table = pd.DataFrame([asdict(v) for v in verdicts])
    for name, frame in outcome.tables.items():
        with atomic_path(folder / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    record = {"study": study.name, "title": study.title, "reference": study.reference,
              "mode": "quick" if quick else "full", "seconds": round(seconds, 1),
              "documented_runtime": study.runtime,
              "figures": outcome.figures, "claims": [asdict(v) for v in verdicts],
              "deviations": list(study.deviations), "notes": outcome.notes,
              "provenance": provenance([study.run], device=device, seed=0)}
    with atomic_path(folder / "claims.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=float))
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(_markdown(study, record, table, outcome, folder))
    return table, folder, outcome


def _markdown(study: Study, record: dict, table: pd.DataFrame, outcome: Outcome,
              folder: Path) -> str:
    quick = record["mode"] == "quick"
    smoke = ["> **Smoke test (`--quick`)**: a tiny model on a little data, to check that the "
             "study runs end to end. Its verdicts carry no evidence for or against the paper; "
             "run the study without `--quick` for that. The sizes it ran are in the Notes.", ""]
    lines = [f"# {study.title}", "", *(smoke if quick else []), f"*{study.reference}*", "",
             study.summary, "", f"Mode: **{record['mode']}**, {record['seconds']:.0f} s"
             + (f" (documented for a full run: {study.runtime})." if study.runtime else "."), "",
             "## Claims" + (" (smoke test: not evidence)" if quick else ""), "",
             "| claim | statement | published | criterion | reproduced | verdict |",
             "|---|---|---|---|---|---|"]
    for v in table.itertuples():
        value = "—" if v.reproduced is None or pd.isna(v.reproduced) else f"{v.reproduced:.4g}"
        lines.append(f"| {v.id} | {v.statement} | {v.published or '—'} | `{v.criterion}` | "
                     f"{value} | **{v.verdict}** |")
    if outcome.summary is not None:
        lines += ["", "## Summary", "", outcome.summary.to_markdown(index=False)]
    if not quick:  # the differences describe the full configuration
        lines += ["", "## Differences from the paper", ""] + [f"- {d}" for d in study.deviations]
    if outcome.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in outcome.notes]
    lines += ["", "## Figures", ""]
    for name, value in sorted(outcome.figures.items()):
        lines.append(f"- `{name}` = {value:.4g}")
    for path in outcome.files:
        rel = Path(path).relative_to(folder)
        lines.append(f"\n![{rel.stem}]({rel})" if rel.suffix == ".png" else f"\n[{rel}]({rel})")
    return "\n".join(lines) + "\n"
