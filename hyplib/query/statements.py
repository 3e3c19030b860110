"""The statement objects a query script parses into (see ``hql.lark`` for the syntax)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A condition is a small tree of tuples: ("column", name), ("qualified", result, name),
# ("abs", x), ("call", function, x), ("literal", value), ("compare", op, a, b),
# ("isin", a, values), ("like", a, pattern), ("and", a, b), ("or", a, b), ("not", a).
Cond = tuple


@dataclass(frozen=True)
class ModelRef:
    """A model by name (a recipe, or one bound in Python); ``untrained``: the same
    architecture with its parameters re-initialised."""

    name: str
    untrained: bool = False

    @property
    def key(self) -> str:
        """The name its units carry."""
        return f"untrained-{self.name}" if self.untrained else self.name


@dataclass(frozen=True)
class Target:
    """What an INSPECT scores: a model's layer (all of them: ``layer`` None) and units
    (all: None), or the units of a named result (``source``)."""

    model: ModelRef | None = None
    layer: str | None = None
    units: tuple[int, ...] | None = None
    source: str | None = None


@dataclass(frozen=True)
class InspectorSpec:
    name: str
    args: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args)
        return f"{self.name}({inner})" if self.args else self.name


@dataclass(frozen=True)
class DataSpec:
    """Records: a data set by name (with loader arguments) or path, filtered and sampled."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()
    is_path: bool = False
    where: Cond | None = None
    where_text: str = ""
    sample: int | float | None = None  # records (int) or a fraction (float)
    seed: int = 0

    @property
    def source(self) -> tuple:
        """What identifies the loaded data set (before the filter and the sample)."""
        return (self.name, self.args, self.is_path)

    def describe(self) -> str:
        s = self.name + (f"({', '.join(f'{k}={v!r}' for k, v in self.args)})" if self.args else "")
        if self.where_text:
            s += f" WHERE {self.where_text}"
        if self.sample is not None:
            s += f" SAMPLE {self.sample if isinstance(self.sample, int) else f'{self.sample:.0%}'}"
        return s + (f" SEED {self.seed}" if self.seed else "")


@dataclass(frozen=True)
class Ablation:
    """Units to switch off: named units ``(model, layer, indices)``, or a result's units."""

    units: tuple[tuple[ModelRef, str, tuple[int, ...]], ...] = ()
    source: str | None = None

    def describe(self) -> str:
        if self.source:
            return f"UNITS OF {self.source}"
        return ", ".join(f"{m.key}:{layer}[{', '.join(map(str, idx))}]"
                         for m, layer, idx in self.units)


@dataclass(frozen=True)
class SortKey:
    expr: Cond
    descending: bool
    text: str


@dataclass(frozen=True)
class Post:
    """What every statement may do to its result: KEEP rows, ORDER BY, LIMIT n [PER ...]."""

    keep: Cond | None = None
    keep_text: str = ""
    order: tuple[SortKey, ...] = ()
    limit: int | None = None
    per: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inspect:
    targets: tuple[Target, ...]
    hypotheses: tuple[str, ...]
    inspectors: tuple[InspectorSpec, ...]
    data: DataSpec
    projection: tuple | None = None  # ("window", lo, hi), ("box", top, left, bottom, right),
    #                                    or ("within", hypothesis)
    ablation: Ablation | None = None
    tolerance: float | None = None
    top_k: int | None = None
    post: Post = field(default_factory=Post)


@dataclass(frozen=True)
class Evaluate:
    """A model-level measure (an evaluation bound in Python) per record, averaged."""

    name: str
    model: ModelRef
    data: DataSpec
    by: tuple[str, ...] = ()
    ablation: Ablation | None = None
    post: Post = field(default_factory=Post)


@dataclass(frozen=True)
class From:
    source: str
    post: Post = field(default_factory=Post)


@dataclass(frozen=True)
class Join:
    left: str
    right: str
    on: tuple[str, ...]
    where: Cond | None = None
    where_text: str = ""
    post: Post = field(default_factory=Post)


@dataclass(frozen=True)
class Diff:
    left: str
    right: str
    on: tuple[str, ...]
    best: bool = False
    replicates: int | None = None
    seed: int = 0
    post: Post = field(default_factory=Post)


Query = Inspect | Evaluate | From | Join | Diff


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its query, its name (``LET name = ...``) and where it is."""

    query: Query
    name: str
    explain: bool
    line: int
    text: str
    span: tuple[int, int] = (0, 0)  # where it is in the script (character offsets)

    @property
    def depends(self) -> list[str]:
        """The named results it reads."""
        q = self.query
        if isinstance(q, (Join, Diff)):
            return [q.left, q.right]
        if isinstance(q, From):
            return [q.source]
        names = [t.source for t in getattr(q, "targets", ()) if t.source]
        if q.ablation is not None and q.ablation.source:
            names.append(q.ablation.source)
        return names
