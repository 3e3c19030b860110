"""Studies: published analyses packaged with their claims, run and judged claim by claim.

A pack contributes studies through the ``hyplib_studies`` hook. A study's ``run`` trains or
loads its models, inspects them, and returns named figures with their intervals; each
:class:`Claim` compares one figure with a threshold fixed before running, and holds only if the
figure's whole interval passes (its lower end for ``>=``, its upper end for ``<=``, both ends
inside a ``within`` band). A study's own extra ``checks`` are judged alike and reported apart.

Every study runs at a ``scale`` (``quick``: a smoke test; ``full``: its CPU size; ``paper``:
the paper's size, on a GPU) and may run as a negative ``control`` (:data:`CONTROLS`: untrained
networks, or shuffled labels), where every claim must fail.
``hyplib repro NAME`` writes a report folder (``report.md``, ``claims.json``, tables as CSV,
PNG/HTML figures) and prints the claims table.
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
from .device import pick_device
from .errors import HyplibError
from .provenance import provenance

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
       "within": lambda v, band: band[0] <= v <= band[1]}
VERDICTS = ("held", "not held", "not applicable")
SCALES = ("quick", "full", "paper")
CONTROLS = {  # negative controls a study may implement, and what they do
    "untrained": "the trained networks replaced by untrained ones (another seed)",
    "shuffled": "each hypothesis's labels permuted between the records (seeded, "
                "hyplib.shuffled_labels), so they say nothing about the inputs"}


class StudyError(HyplibError):
    """A study asked for at a scale or control it does not have."""


@dataclass(frozen=True)
class Claim:
    """A published statement and the test of it: ``value(figure) op threshold``, or with op
    ``within``, ``threshold <= value <= upper`` (a two-sided band). ``published`` cites the
    paper's table or figure."""

    id: str
    statement: str
    figure: str
    op: str
    threshold: float
    published: str = ""
    upper: float | None = None

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"claim {self.id!r}: op must be one of {list(OPS)}")
        if (self.op == "within") != (self.upper is not None):
            raise ValueError(f"claim {self.id!r}: give upper exactly when op is 'within'")

    @property
    def criterion(self) -> str:
        if self.op == "within":
            return f"{self.figure} within [{self.threshold:g}, {self.upper:g}]"
        return f"{self.figure} {self.op} {self.threshold:g}"


@dataclass
class Outcome:
    """What a study's run measured: named figures and their 95% ``intervals`` (``(low, high)``,
    :mod:`hyplib.intervals`), tables to save, figure files, notes, and a short ``summary``
    table printed after the claims."""

    figures: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: pd.DataFrame | None = None
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class Context:
    """How to run: ``quick`` is a tiny configuration for tests (``scale`` says which of
    :data:`SCALES`); ``control`` names a negative control (None: the real study); files go
    under ``out``."""

    quick: bool
    device: str
    out: Path
    progress: bool = True
    seed: int = 0
    control: str | None = None
    scale: str = ""

    def __post_init__(self):
        self.scale = self.scale or ("quick" if self.quick else "full")
        self.quick = self.scale == "quick"


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
    checks: tuple[Claim, ...] = ()  # ours, not the paper's: reported apart from the claims
    controls: tuple[str, ...] = ()  # the negative controls its run implements
    paper: str = ""  # what ``--scale paper`` runs; empty: the study has no paper scale


@dataclass
class Verdict:
    id: str
    statement: str
    published: str
    criterion: str
    reproduced: float | None
    ci_low: float | None
    ci_high: float | None
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


def judge(claim: Claim, figures: dict[str, float],
          intervals: dict[str, tuple[float, float]] | None = None) -> Verdict:
    """Apply one claim's criterion to the measured figure and its interval: the claim holds
    only if the value and the interval's unfavourable end(s) both pass; a figure without an
    interval is judged on its value, and the verdict says so."""
    value = figures.get(claim.figure)
    low, high = (intervals or {}).get(claim.figure, (None, None))
    base = dict(id=claim.id, statement=claim.statement, published=claim.published,
                criterion=claim.criterion)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        why = "the study did not measure it" if value is None else "the figure is undefined (NaN)"
        return Verdict(**base, reproduced=None, ci_low=None, ci_high=None,
                       verdict="not applicable", why=why)
    bound = claim.threshold if claim.op != "within" else (claim.threshold, claim.upper)
    test = OPS[claim.op]
    if low is None or math.isnan(low) or math.isnan(high):
        held, ends = test(value, bound), "(no interval: judged on the value)"
        low = high = None
    else:
        tested = {">=": [low], ">": [low], "<=": [high], "<": [high]}.get(claim.op, [low, high])
        held = test(value, bound) and all(test(end, bound) for end in tested)
        ends = f"(95% interval [{low:.4g}, {high:.4g}])"
    return Verdict(**base, reproduced=float(value), ci_low=low, ci_high=high,
                   verdict="held" if held else "not held",
                   why=f"{value:.4g} {ends} {'meets' if held else 'misses'} {claim.criterion}")


def check_request(study: Study, scale: str, control: str | None, device: str) -> None:
    """Refuse, with the fix, a scale or control that ``study`` does not have."""
    if scale not in SCALES:
        raise StudyError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    if control is not None and control not in study.controls:
        have = ", ".join(study.controls) or "none"
        raise StudyError(f"study {study.name!r} has no negative control {control!r} (its "
                         f"controls: {have}); drop --control or choose one of those")
    if scale == "paper":
        if not study.paper:
            raise StudyError(f"study {study.name!r} has no paper-scale configuration; run it "
                             f"at --scale full")
        if pick_device(device).type == "cpu":
            raise StudyError(f"--scale paper runs {study.name} at the paper's size "
                             f"({study.paper}) and needs a GPU, but the device is the CPU; "
                             f"run it on a machine with CUDA, or use --scale full")


def run_study(study: Study, quick: bool = False, device: str = "auto", out: str | Path = "repro",
              progress: bool = True, scale: str | None = None, control: str | None = None
              ) -> tuple[pd.DataFrame, Path, Outcome]:
    """Run ``study`` at ``scale`` (default: ``quick`` or ``full`` by ``quick``), as the
    negative ``control`` if one is named; write its report folder (``out/NAME``, or
    ``out/NAME.control-CONTROL``); return the claims table (claims, then checks), folder and
    outcome."""
    scale = scale or ("quick" if quick else "full")
    check_request(study, scale, control, device)
    folder = Path(out) / (study.name + (f".control-{control}" if control else ""))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with one_thread():  # on a few CPU cores torch's default threads oversubscribe them
        outcome = study.run(Context(scale == "quick", device, folder, progress,
                                    control=control, scale=scale))
    seconds = time.perf_counter() - start
    verdicts = [judge(c, outcome.figures, outcome.intervals) for c in study.claims]
    checks = [judge(c, outcome.figures, outcome.intervals) for c in study.checks]
    table = pd.DataFrame([asdict(v) | {"kind": kind} for kind, vs in (("claim", verdicts),
                                                                       ("check", checks))
                          for v in vs])
    for name, frame in outcome.tables.items():
        with atomic_path(folder / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    record = {"study": study.name, "title": study.title, "reference": study.reference,
              "mode": scale, "control": control, "seconds": round(seconds, 1),
              "documented_runtime": study.runtime,
              "figures": outcome.figures,
              "intervals": {k: list(v) for k, v in outcome.intervals.items()},
              "claims": [asdict(v) for v in verdicts], "checks": [asdict(v) for v in checks],
              "deviations": list(study.deviations), "notes": outcome.notes,
              "provenance": provenance([study.run], device=device, seed=0)}
    with atomic_path(folder / "claims.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2, default=float))
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(_markdown(study, record, table, outcome, folder))
    return table, folder, outcome


def _rows(table: pd.DataFrame) -> list[str]:
    lines = ["| claim | statement | published | criterion | reproduced | 95% interval | verdict |",
             "|---|---|---|---|---|---|---|"]
    for v in table.itertuples():
        value = "—" if v.reproduced is None or pd.isna(v.reproduced) else f"{v.reproduced:.4g}"
        ends = ("—" if v.ci_low is None or pd.isna(v.ci_low)
                else f"[{v.ci_low:.4g}, {v.ci_high:.4g}]")
        cells = [v.id, v.statement, v.published or "—", f"`{v.criterion}`", value, ends,
                 f"**{v.verdict}**"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _markdown(study: Study, record: dict, table: pd.DataFrame, outcome: Outcome,
              folder: Path) -> str:
    quick, control = record["mode"] == "quick", record["control"]
    smoke = ["> **Smoke test (`--quick`)**: a tiny model on a little data, to check that the "
             "study runs end to end. Its verdicts carry no evidence for or against the paper; "
             "run the study without `--quick` for that. The sizes it ran are in the Notes.", ""]
    negative = [f"> **Negative control (`--control {control}`)**: the study run with "
                f"{CONTROLS.get(control, control)}. Every claim should fail here; a claim "
                "that holds is a defect of the claim.", ""]
    lines = [f"# {study.title}", "", *(smoke if quick else []), *(negative if control else []),
             f"*{study.reference}*", "", study.summary, "",
             f"Mode: **{record['mode']}**, {record['seconds']:.0f} s"
             + (f" (documented for a full run: {study.runtime})." if study.runtime else "."),
             "", "## Claims" + (" (smoke test: not evidence)" if quick else ""), "",
             "A claim holds only if its whole 95% interval passes the criterion.", "",
             *_rows(table[table["kind"] == "claim"])]
    if (table["kind"] == "check").any():
        lines += ["", "## Extra checks (ours, not the paper's claims)", "",
                  *_rows(table[table["kind"] == "check"])]
    if outcome.summary is not None:
        lines += ["", "## Summary", "", outcome.summary.to_markdown(index=False)]
    if not quick:  # the differences describe the full configuration
        lines += ["", "## Differences from the paper", ""] + [f"- {d}" for d in study.deviations]
    if outcome.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in outcome.notes]
    lines += ["", "## Figures", ""]
    for name, value in sorted(outcome.figures.items()):
        ends = outcome.intervals.get(name)
        lines.append(f"- `{name}` = {value:.4g}"
                     + (f" [{ends[0]:.4g}, {ends[1]:.4g}]" if ends else ""))
    for path in outcome.files:
        rel = Path(path).relative_to(folder)
        lines.append(f"\n![{rel.stem}]({rel})" if rel.suffix == ".png" else f"\n[{rel}]({rel})")
    return "\n".join(lines) + "\n"
