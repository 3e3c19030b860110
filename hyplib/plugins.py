"""Plug-in discovery: packs are loaded one by one from the ``hyplib`` entry-point group.

A pack that fails to import, or whose hook raises (anything but ``KeyboardInterrupt``: a
``sys.exit`` too) or returns something that is not an item of its kind, is recorded as broken
with its error; the others keep working. Two distributions that declare the same entry-point
name are both broken, the error naming both: neither wins by its place on ``sys.path``. ``HYPLIB_PLUGINS`` (a comma-separated list of entry-point names) restricts
which packs load; set it to the empty string to load none.
"""
from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
import importlib
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable, Iterator

import pluggy

from . import control, hookspecs, manifest
from .errors import HyplibError, UnknownNameError

GROUP = "hyplib"
ENV_VAR = "HYPLIB_PLUGINS"
CORE = "hyplib"
SINGULAR = {"hypotheses": "hypothesis", "inspectors": "inspector", "models": "model",
            "datasets": "dataset", "studies": "study", "layers": "layer",
            "generators": "generator"}
# The hook that contributes each kind of item.
HOOKS = {
    "hypotheses": "hyplib_hypotheses",
    "inspectors": "hyplib_inspectors",
    "models": "hyplib_models",
    "datasets": "hyplib_datasets",
    "studies": "hyplib_studies",
    "generators": "hyplib_generators",
}


@dataclass
class Pack:
    """A plug-in: one entry point of the ``hyplib`` group. ``loaded`` is False while only its
    manifest has been read; ``error`` holds why it could not be imported or called."""

    name: str
    dist: str
    version: str
    value: str
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)
    loaded: bool = False
    entry_point: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


class Declared:
    """An item a pack's manifest declares: its name and description (hypotheses also kind,
    level and classes; studies their title). The pack is imported when the item is used."""

    def __init__(self, info: dict):
        self.name = info["name"]
        self.kind = info.get("kind")
        self.level = info.get("level")
        self.classes = tuple(info.get("classes", ()))
        self.description = info.get("description", "")
        self.title = info.get("title", "")


class Catalog:
    """Everything the installed packs provide, by kind and name. Packs with a manifest are
    imported on the first use of one of their items."""

    kinds = tuple(HOOKS)

    def __init__(self, packs: list[Pack], items: dict[str, dict[str, list[tuple[str, Any]]]],
                 pm: pluggy.PluginManager | None = None):
        self.packs = packs
        self._items = items
        self._pm = pm or _plugin_manager()

    @property
    def errors(self) -> list[Pack]:
        return [p for p in self.packs if not p.ok]

    def names(self, kind: str) -> list[str]:
        return sorted(self._items[kind])

    def get(self, kind: str, name: str) -> Any:
        """The one ``kind`` (``"hypotheses"``, ``"inspectors"``, ...) called ``name``; a model
        family such as ``hf:`` resolves its members (``hf:<path-or-hub-id>``)."""
        if kind == "hypotheses" and name.startswith(control.PREFIX):
            return control.control_task(self.get(kind, name[len(control.PREFIX):]))
        family = name.partition(":")[0] + ":"
        if kind == "models" and ":" in name and name != family and family in self._items[kind]:
            return self.get(kind, family).resolve(name)
        found = self._items[kind].get(name)
        if found and any(isinstance(item, Declared) for _, item in found):
            for pack, item in list(found):
                if isinstance(item, Declared):
                    self._import(self._pack(pack))
            found = self._items[kind].get(name)
        if not found and self._load_rest():  # a pack may provide names its manifest cannot
            return self.get(kind, name)       # list (from the environment, e.g. Broden's)
        if not found:
            raise UnknownNameError(kind, name, self.names(kind), self._missing_note(kind, name))
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
            if not hits and self._load_rest():
                hits = fnmatch.filter(self.names(kind), pattern)
            if not hits:
                raise UnknownNameError(kind, pattern, self.names(kind),
                                       self._missing_note(kind, pattern))
            chosen += [h for h in hits if h not in chosen]
        return [self.get(kind, n) for n in sorted(chosen)]

    def entries(self, kind: str) -> Iterator[tuple[str, str, Any]]:
        """(name, pack, item) for everything of ``kind``; a clashing name appears once per pack.
        Items of packs not yet imported are :class:`Declared`."""
        for name in self.names(kind):
            for pack, item in self._items[kind][name]:
                yield name, pack, item

    def load_all(self) -> "Catalog":
        """Import every pack that only its manifest has described so far."""
        for pack in self.packs:
            if not pack.loaded and pack.ok:
                self._import(pack)
        return self

    def _load_rest(self) -> bool:
        """Import the packs not imported yet (errors stay on the packs); whether there were any."""
        rest = [p for p in self.packs if not p.loaded and p.ok]
        for pack in rest:
            with contextlib.suppress(HyplibError):
                self._import(pack)
        return bool(rest)

    def _pack(self, name: str) -> Pack:
        return next(p for p in self.packs if p.name == name)

    def _import(self, pack: Pack) -> None:
        """Import ``pack`` and call its hooks; its declared items become the real ones."""
        for items in self._items.values():
            for name in list(items):
                items[name] = [(o, i) for o, i in items[name] if o != pack.name]
                if not items[name]:
                    del items[name]
        pack.provides = {}
        _register(self._pm, pack)
        _collect(self._pm, pack, self._items)
        if pack.error:
            raise HyplibError(f"pack {pack.name!r} ({pack.dist} {pack.version}) is broken: "
                              f"{pack.error}")

    def _broken_note(self) -> str:
        broken = [p.name for p in self.errors]
        return f" (broken packs, see `hyplib list`: {', '.join(broken)})" if broken else ""

    def _missing_note(self, kind: str, name: str) -> str:
        """Which registry pack provides ``name`` and how to install it, else the broken packs."""
        from .registry import providers

        hint = providers(kind, name)
        return f"; {hint}" if hint else self._broken_note()


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


def _register(pm: pluggy.PluginManager, pack: Pack) -> None:
    """Import the pack's module and register it; an import failure marks the pack broken."""
    pack.loaded = True
    if pm.has_plugin(pack.name):
        pack.error = f"another pack is already registered as {pack.name!r}"
        return
    try:
        module = (importlib.import_module("hyplib.builtin") if pack.name == CORE
                  else pack.entry_point.load())
        pm.register(module, name=pack.name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a broken pack (even one calling sys.exit) must not take
        pack.error = _format_error(exc)  # the others down


def _collect(pm: pluggy.PluginManager, pack: Pack,
             items: dict[str, dict[str, list[tuple[str, Any]]]]) -> None:
    """Call the registered pack's hooks and add what they return to ``items``."""
    if pack.error:
        return
    for kind, hook in HOOKS.items():
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name != pack.name:
                continue
            try:
                provided = list(impl.function() or [])
                for item in provided:
                    _check_item(kind, item)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                failed = f"{hook}() failed: {_format_error(exc)}"
                pack.error = f"{pack.error}; {failed}" if pack.error else failed
                continue
            for item in provided:
                items[kind].setdefault(item.name, []).append((pack.name, item))
                pack.provides.setdefault(kind, []).append(item.name)


# What each hook's items must have (hypotheses must be Hypothesis objects).
_ATTRIBUTES = {"inspectors": ("name", "accepts", "update", "scores"),
               "models": ("name", "build"), "datasets": ("name", "load"),
               "studies": ("name", "run", "claims")}


def _check_item(kind: str, item: Any) -> None:
    """Raise ``TypeError`` unless ``item`` is an item of ``kind`` with a valid name."""
    from .types import Hypothesis, check_name

    what = SINGULAR[kind]
    if kind == "hypotheses":
        if not isinstance(item, Hypothesis):
            raise TypeError(f"it returned {type(item).__name__} {item!r:.60}, not a Hypothesis")
    elif kind == "inspectors" and not isinstance(item, type):
        raise TypeError(f"it returned {type(item).__name__} {item!r:.60}, not an inspector class")
    missing = [a for a in _ATTRIBUTES.get(kind, ()) if not hasattr(item, a)]
    if missing:
        raise TypeError(f"it returned {type(item).__name__} {item!r:.60}, which is not a {what} "
                        f"(it has no {', '.join(missing)})")
    if not isinstance(item.name, str):
        raise TypeError(f"it returned a {what} whose name is {item.name!r}, not a string")
    if kind == "hypotheses":
        check_name(item.name)


def _declare(pack: Pack, doc: dict, items: dict[str, dict[str, list[tuple[str, Any]]]]) -> None:
    for kind, declared in doc.get("provides", {}).items():
        if kind not in items:
            continue
        for info in declared:
            items[kind].setdefault(info["name"], []).append((pack.name, Declared(info)))
            pack.provides.setdefault(kind, []).append(info["name"])


def load_catalog(group: str = GROUP, lazy: bool = True) -> Catalog:
    """Discover every pack of the entry-point ``group``, each on its own, isolating failures.

    A pack whose ``manifest.json`` matches its installed version is described from it and
    imported on first use (with ``lazy``); any other pack is imported now."""
    from . import __version__

    pm = _plugin_manager()
    items: dict[str, dict[str, list[tuple[str, Any]]]] = {kind: {} for kind in HOOKS}
    core = Pack(CORE, "hyplib", __version__, "hyplib.builtin")
    packs = [core]
    allowed = _allowed()
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        packs.append(Pack(ep.name, dist, version, ep.value, entry_point=ep))
    _mark_clashes(packs)
    for pack in packs:
        if pack.error:
            continue
        doc = manifest.read(pack.value, pack.version) if lazy else None
        if doc is not None:
            _declare(pack, doc, items)
            continue
        _register(pm, pack)
        _collect(pm, pack, items)
    return Catalog(packs, items, pm)


def _mark_clashes(packs: list[Pack]) -> None:
    """Mark broken every pack whose entry-point name another distribution also declares
    (the core keeps its name), naming all of them."""
    by_name: dict[str, list[Pack]] = {}
    for pack in packs:
        by_name.setdefault(pack.name, []).append(pack)
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        dists = " and ".join(f"{p.dist} {p.version} ({p.value})" for p in same)
        for pack in same:
            if pack.name != CORE or pack.dist != "hyplib":
                pack.loaded = True
                pack.error = (f"the entry-point name {name!r} is declared by {dists}: "
                              f"uninstall one of them")


@functools.cache
def catalog() -> Catalog:
    """The catalogue of installed packs, discovered once per process."""
    return load_catalog()


def close_matches(name: str, names: list[str]) -> list[str]:
    """Names like ``name``: by spelling, then by shared dotted prefix."""
    hits = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    if not hits:
        stem = name.split("*")[0].rsplit(".", 1)[0]
        hits = [n for n in names if stem and n.startswith(stem)][:5]
    return hits
