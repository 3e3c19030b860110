"""Plug-in discovery: packs are loaded one by one from the ``hyplib`` entry-point group.

A pack that fails to import, or whose hook raises, is recorded as broken with its error; the
others keep working. ``HYPLIB_PLUGINS`` (a comma-separated list of entry-point names) restricts
which packs load; set it to the empty string to load none.
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable, Iterator

import pluggy

from . import control, hookspecs
from .errors import HyplibError, UnknownNameError

GROUP = "hyplib"
ENV_VAR = "HYPLIB_PLUGINS"
CORE = "hyplib"
SINGULAR = {"hypotheses": "hypothesis", "inspectors": "inspector", "models": "model",
            "datasets": "dataset", "studies": "study", "layers": "layer"}
# The hook that contributes each kind of item.
HOOKS = {
    "hypotheses": "hyplib_hypotheses",
    "inspectors": "hyplib_inspectors",
    "models": "hyplib_models",
    "datasets": "hyplib_datasets",
    "studies": "hyplib_studies",
}


@dataclass
class Pack:
    """A loaded (or broken) plug-in: one entry point of the ``hyplib`` group."""

    name: str
    dist: str
    version: str
    value: str
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Catalog:
    """Everything the installed packs provide, by kind and name."""

    def __init__(self, packs: list[Pack], items: dict[str, dict[str, list[tuple[str, Any]]]]):
        self.packs = packs
        self._items = items

    @property
    def errors(self) -> list[Pack]:
        return [p for p in self.packs if not p.ok]

    def names(self, kind: str) -> list[str]:
        return sorted(self._items[kind])

    def get(self, kind: str, name: str) -> Any:
        """The one ``kind`` (``"hypotheses"``, ``"inspectors"``, ...) called ``name``; the model
        ``hf:<path-or-hub-id>`` is any Hugging Face model."""
        if kind == "hypotheses" and name.startswith(control.PREFIX):
            return control.control_task(self.get(kind, name[len(control.PREFIX):]))
        if kind == "models" and name.startswith("hf:"):
            from .models import hf
            return hf.recipe(name)
        found = self._items[kind].get(name)
        if not found:
            raise UnknownNameError(kind, name, self.names(kind), self._broken_note())
        if len(found) > 1:
            owners = ", ".join(pack for pack, _ in found)
            raise HyplibError(f"{SINGULAR[kind]} {name!r} is provided by several packs ({owners}); "
                              f"uninstall one, or restrict packs with {ENV_VAR}=...")
        return found[0][1]

    def select(self, kind: str, patterns: Iterable[str]) -> list[Any]:
        """All items whose names match any of the glob ``patterns``, in name order."""
        chosen: list[str] = []
        for pattern in patterns:
            if kind == "hypotheses" and pattern.startswith(control.PREFIX):
                base = [h.name for h in self.select(kind, [pattern[len(control.PREFIX):]])]
                chosen += [control.PREFIX + n for n in base if control.PREFIX + n not in chosen]
                continue
            hits = fnmatch.filter(self.names(kind), pattern)
            if not hits:
                raise UnknownNameError(kind, pattern, self.names(kind), self._broken_note())
            chosen += [h for h in hits if h not in chosen]
        return [self.get(kind, n) for n in sorted(chosen)]

    def entries(self, kind: str) -> Iterator[tuple[str, str, Any]]:
        """(name, pack, item) for everything of ``kind``; a clashing name appears once per pack."""
        for name in self.names(kind):
            for pack, item in self._items[kind][name]:
                yield name, pack, item

    def _broken_note(self) -> str:
        broken = [p.name for p in self.errors]
        return f" (broken packs, see `hyplib list`: {', '.join(broken)})" if broken else ""


def _plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def _allowed() -> set[str] | None:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return None
    return {v.strip() for v in value.split(",") if v.strip()}


def _format_error(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)
    at = f" (at {where[-1].filename}:{where[-1].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"


def load_catalog(group: str = GROUP) -> Catalog:
    """Load every pack of the entry-point ``group`` on its own, isolating failures."""
    from . import builtin

    pm = _plugin_manager()
    packs = [Pack(CORE, "hyplib", _core_version(), "hyplib.builtin")]
    pm.register(builtin, name=CORE)
    allowed = _allowed()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        pack = Pack(ep.name, dist, version, ep.value)
        packs.append(pack)
        if pm.has_plugin(ep.name):
            pack.error = f"another pack is already registered as {ep.name!r}"
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken pack must not take the others down
            pack.error = _format_error(exc)

    items: dict[str, dict[str, list[tuple[str, Any]]]] = {kind: {} for kind in HOOKS}
    by_name = {p.name: p for p in packs}
    for kind, hook in HOOKS.items():
        for impl in getattr(pm.hook, hook).get_hookimpls():
            pack = by_name[impl.plugin_name]
            try:
                provided = list(impl.function() or [])
            except Exception as exc:
                pack.error = f"{hook}() failed: {_format_error(exc)}"
                continue
            for item in provided:
                items[kind].setdefault(item.name, []).append((pack.name, item))
                pack.provides.setdefault(kind, []).append(item.name)
    return Catalog(packs, items)


@functools.cache
def catalog() -> Catalog:
    """The catalogue of installed packs, loaded once per process."""
    return load_catalog()


def _core_version() -> str:
    from . import __version__

    return __version__


def close_matches(name: str, names: list[str]) -> list[str]:
    """Names like ``name``: by spelling, then by shared dotted prefix."""
    hits = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    if not hits:
        stem = name.split("*")[0].rsplit(".", 1)[0]
        hits = [n for n in names if stem and n.startswith(stem)][:5]
    return hits
