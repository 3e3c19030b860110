"""Core types: hypotheses, label columns, unit names and inspector scores."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

Kind = Literal["binary", "categorical", "continuous"]
Level = Literal["char", "word", "pixel", "record"]
KINDS: tuple[str, ...] = ("binary", "categorical", "continuous")
LEVELS: tuple[str, ...] = ("char", "word", "pixel", "record")


@dataclass(frozen=True)
class Hypothesis:
    """A named, versioned, pure function that labels the symbols of records.

    ``fn`` takes a batch of records in Hugging Face's column form (``{"text": [...], ...}``)
    and returns one label sequence per record: one label per character (``level="char"``),
    per word (``"word"``, words given by the record's ``word_spans``), per pixel of an image's
    label grid (``"pixel"``: a (``height``, ``width``) array, or its row-major flattening), or a
    single label (``"record"``). Categorical labels may be class names or indices into
    ``classes``.
    """

    name: str
    fn: Callable[[dict[str, list]], Sequence[Any]] = field(repr=False, compare=False)
    kind: Kind = "binary"
    level: Level = "char"
    version: str = "1"
    classes: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        check_name(self.name)
        if self.kind not in KINDS:
            raise ValueError(f"hypothesis {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.level not in LEVELS:
            raise ValueError(f"hypothesis {self.name!r}: level {self.level!r} is not one of {LEVELS}")
        if self.kind == "categorical" and len(self.classes) < 2:
            raise ValueError(f"categorical hypothesis {self.name!r} needs at least two classes")

    @property
    def columns(self) -> list["LabelColumn"]:
        """The numeric columns this hypothesis contributes: one per class if categorical."""
        if self.kind == "categorical":
            return [LabelColumn(self, i, c) for i, c in enumerate(self.classes)]
        return [LabelColumn(self, None, "")]

    def __call__(self, batch: dict[str, list]) -> Sequence[Any]:
        return self.fn(batch)


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:=+\-\[\](),]{0,199}")


def check_name(name) -> None:
    """Raise :class:`~hyplib.errors.DefinitionError` unless ``name`` is a valid hypothesis
    name: letters, digits and ``_ . : = + - [ ] ( ) ,``, not starting with a dot or dash, at
    most 200 characters (so it is never a path)."""
    from .errors import DefinitionError

    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise DefinitionError(f"invalid hypothesis name {name!r}: use letters, digits and "
                              f"'_.:=+-[](),' (no '/', spaces or leading '.' or '-'), e.g. "
                              f"'text.is_space'")


class LabelColumn(NamedTuple):
    """One numeric column of the label matrix: a hypothesis, or one class of a categorical one."""

    hypothesis: Hypothesis
    class_index: int | None
    label: str


def hypothesis(
    name: str,
    kind: Kind = "binary",
    level: Level = "char",
    version: str = "1",
    classes: Sequence[str] = (),
    field: str = "text",
    batched: bool = False,
    description: str | None = None,
) -> Callable[[Callable], Hypothesis]:
    """Decorator that turns a function into a :class:`Hypothesis`.

    By default the function receives one record's ``field`` (a string for text) and returns its
    labels; with ``batched=True`` it receives the whole batch of records and returns a list.
    """

    def wrap(f: Callable) -> Hypothesis:
        if batched:
            fn = f
        else:
            @functools.wraps(f)
            def fn(batch):
                return [f(value) for value in batch[field]]
        return Hypothesis(name, fn, kind, level, str(version), tuple(classes),
                          description if description is not None else (f.__doc__ or "").strip())

    return wrap


def unit_name(model: str, layer: str, index: int) -> str:
    """The canonical name of a unit: ``model:layer[index]``."""
    return f"{model}:{layer}[{index}]"


class Scores(NamedTuple):
    """One metric of an inspector: estimate, interval and sample size, each (rows, columns).

    Rows are the layer's units unless ``groups`` names them (a probe over all units is one
    group); columns are the inspector's label columns unless ``columns`` says otherwise (a
    probe scores a whole categorical hypothesis, not each class).
    """

    score: Any
    low: Any
    high: Any
    n: Any
    metric: str = "score"
    groups: Sequence[str] | None = None
    columns: Sequence[LabelColumn] | None = None


@runtime_checkable
class Inspector(Protocol):
    """A streaming measure of affinity between units and label columns.

    The engine makes one inspector per (model, layer, level), calls :meth:`update` with each
    batch's behaviours ``x`` (symbols × units, float32) and labels ``y`` (symbols × columns,
    float32; a categorical hypothesis is one-hot over its ``columns``) on the device, then
    reads :meth:`scores`. ``rank_by_abs`` says whether a unit's rank goes by |score|
    (correlations) or by score.

    **Mergeable state** (what lets a pass be cut into shards, :mod:`hyplib.scale`):

    - :meth:`state_dict` holds tensors, numbers, lists and dicts of them, nothing else;
      :meth:`load_state_dict` restores it into an inspector made with the same arguments.
    - :meth:`merge` adds ``other``'s statistics, ``other`` being an inspector of the same
      arguments that saw a *later* part of the same stream. ``a.merge(b)`` must score as one
      inspector updated on ``a``'s symbols then ``b``'s: exactly up to float rounding for
      sums and moments, within the stated bound for sketches; :func:`hyplib.testing.
      check_merge` tests this.
    - :meth:`to` moves the state to a device and returns the inspector.
    - Optional, for inspectors whose state depends on the stream's order (edges learned from
      the first symbols, hashes of stream positions): ``fork(offset)`` returns an empty
      inspector that continues this one's stream at global symbol ``offset`` (with any
      parameters learned so far), and a ``settled`` attribute says whether later parts may
      now run in parallel (False while, say, histogram edges are still being learned). An
      inspector without ``fork`` is forked by making a fresh one with the same arguments.
    """

    name: str
    rank_by_abs: bool

    def __init__(self, n_units: int, columns: Sequence[LabelColumn], device: Any) -> None: ...

    @classmethod
    def accepts(cls, hypothesis: Hypothesis) -> bool: ...

    def update(self, x, y) -> None: ...

    def scores(self) -> Scores | list[Scores]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...

    def merge(self, other: "Inspector") -> None: ...

    def to(self, device: Any) -> "Inspector": ...


def as_label_array(values: Any, hyp: Hypothesis) -> np.ndarray:
    """Convert one record's labels to float32, mapping class names to indices."""
    if hyp.kind == "categorical" and len(values) and isinstance(_first(values), str):
        lookup = {c: i for i, c in enumerate(hyp.classes)}
        try:
            values = [lookup[v] for v in values]
        except KeyError as e:
            raise ValueError(f"hypothesis {hyp.name!r} returned class {e.args[0]!r}, "
                             f"not one of its classes {list(hyp.classes)}") from None
    with np.errstate(over="ignore"):  # too large for float32: inf, refused as non-finite
        return np.asarray(values, dtype=np.float32).reshape(-1)


def _first(values):
    return values[0] if not isinstance(values, np.ndarray) else values.flat[0]
