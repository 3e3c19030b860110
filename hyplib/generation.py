"""Hypothesis generators: hypotheses made from a data set (one per frequent token, feature
value, grammar rule, concept, ...), after Luigi's one hypothesis per grammar rule.

A :class:`Generator` is contributed by a pack (``hyplib_generators`` hook). It reads the data
once, counts the candidates, and keeps those labelling at least ``min_count`` symbols, at most
``cap`` of them, the most frequent first (ties by name). Names are deterministic
(``auto.token.the``, ``auto.feats.Number=Plur``) and each hypothesis is a pure function of a
record, versioned with its generator, so it is annotated and cached like any other.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import datasets

from .errors import HyplibError
from .types import Hypothesis


@dataclass(frozen=True)
class Generator:
    """``fn(data, cap, min_count, **options)`` returns the hypotheses; ``fields`` are the
    record fields it reads (a data set without them is not for it) and ``needs`` the options it
    cannot do without."""

    name: str
    fn: Callable[..., list[Hypothesis]] = field(repr=False, compare=False)
    fields: tuple[str, ...] = ("text",)
    description: str = ""
    needs: tuple[str, ...] = ()

    def applies(self, data: datasets.Dataset, options: dict | None = None) -> bool:
        return (all(f in data.column_names for f in self.fields)
                and all(o in (options or {}) for o in self.needs))

    def __call__(self, data: datasets.Dataset, cap: int = 100, min_count: int = 20,
                 **options) -> list[Hypothesis]:
        missing = [f for f in self.fields if f not in data.column_names]
        if missing:
            raise HyplibError(f"generator {self.name!r} reads the field(s) {missing}, which the "
                              f"data lack (its fields: {data.column_names}); choose another "
                              f"generator or data with those fields")
        lacking = [o for o in self.needs if o not in options]
        if lacking:
            raise HyplibError(f"generator {self.name!r} needs the option(s) {lacking}, e.g. "
                              f"--generator-arg {self.name}.{lacking[0]}=...")
        return self.fn(data, cap=cap, min_count=min_count, **options)


def frequent(counts: Counter, cap: int, min_count: int) -> list:
    """The keys counted at least ``min_count`` times, most frequent first (ties by key), at
    most ``cap``."""
    kept = [k for k, c in counts.items() if c >= min_count]
    return sorted(kept, key=lambda k: (-counts[k], str(k)))[:cap]


def generate(data: datasets.Dataset, generators: Sequence[str | Generator] = ("*",),
             cap: int = 100, min_count: int = 20, options: dict[str, dict] | None = None,
             catalog=None) -> dict[str, list[Hypothesis]]:
    """The hypotheses of each chosen generator on ``data``, by generator name. Names and globs
    (``"*"``: every installed generator that applies to the data) choose; a generator named
    outright must apply, a glob's are skipped when they do not. ``options`` gives a
    generator's own parameters by name."""
    from .plugins import catalog as default_catalog

    cat = catalog or default_catalog()
    options = dict(options or {})
    chosen: dict[str, Generator] = {}
    for item in generators:
        if isinstance(item, Generator):
            chosen[item.name] = item
        elif any(ch in item for ch in "*?["):
            chosen.update((g.name, g) for g in cat.select("generators", [item])
                          if g.applies(data, options.get(g.name)))
        else:
            chosen[item] = cat.get("generators", item)
    unknown = sorted(set(options) - set(chosen))
    if unknown:
        raise HyplibError(f"options given for generator(s) {unknown}, which are not among the "
                          f"chosen ones {sorted(chosen)}")
    if not chosen:
        raise HyplibError(f"no generator applies to the data (its fields: {data.column_names}); "
                          f"see `hyplib list generators`")
    return {name: g(data, cap=cap, min_count=min_count, **options.get(name, {}))
            for name, g in chosen.items()}
