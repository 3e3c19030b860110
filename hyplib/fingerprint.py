"""Content fingerprints: what a hypothesis is (its code and where it comes from) and what a
local data file holds, so that caches are keyed by content, never by names or timestamps."""
from __future__ import annotations

import functools
import hashlib
import inspect
import os
import sys
import types
from importlib.metadata import packages_distributions, version
from pathlib import Path

import numpy as np

from .integrity import file_hash

_PLAIN = (str, bytes, int, float, bool, complex, type(None))


def hypothesis_key(hyp) -> dict:
    """What a hypothesis' labels depend on besides the data: its name, version, kind, level
    and classes; the distribution (and version) that provides its function; and a hash of
    the function's definition (its code objects, constants, defaults and closure values, and
    the source file of its module; of other objects it holds, their type and its module's
    source), so two packs' same-named hypotheses, or an edited one, never share cached
    labels."""
    fn = inspect.unwrap(hyp.fn)
    module = getattr(fn, "__module__", None) or ""
    return {"name": hyp.name, "version": hyp.version, "kind": hyp.kind, "level": hyp.level,
            "classes": list(hyp.classes), "distribution": _distribution(module),
            "definition": _definition(fn)}


@functools.cache
def _distribution(module: str) -> str:
    top = module.partition(".")[0]
    dists = _packages().get(top, [])
    if not dists:
        return f"{top} (no distribution)"
    return ", ".join(f"{d} {version(d)}" for d in sorted(set(dists)))


@functools.cache
def _packages() -> dict[str, list[str]]:
    return packages_distributions()  # scans every installed distribution: once


def _definition(fn) -> str:
    h = hashlib.sha256()
    _feed(h, fn, set())
    return h.hexdigest()[:16]


def _feed(h, obj, seen: set) -> None:
    """Hash the parts of ``obj`` that decide what a function computes."""
    from .types import Hypothesis

    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Hypothesis):  # a derived hypothesis (a control task) wraps its base
        h.update(repr(sorted(hypothesis_key(obj).items())).encode())
    elif isinstance(obj, functools.partial):
        _feed(h, obj.func, seen)
        for value in (*obj.args, *obj.keywords.values()):
            _feed(h, value, seen)
    elif isinstance(obj, types.MethodType):
        _feed(h, obj.__func__, seen)
    elif isinstance(obj, types.FunctionType):
        _feed(h, obj.__code__, seen)
        for value in (*(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values()):
            _feed(h, value, seen)
        for cell in obj.__closure__ or ():
            try:
                _feed(h, cell.cell_contents, seen)
            except ValueError:  # an empty cell
                pass
        h.update(_module_source(obj.__module__).encode())
    elif isinstance(obj, types.CodeType):
        h.update(obj.co_code)
        h.update(repr(obj.co_names).encode())
        for const in obj.co_consts:
            _feed(h, const, seen)
    elif isinstance(obj, (tuple, list, frozenset, set)):
        h.update(type(obj).__name__.encode())
        for value in (sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj):
            _feed(h, value, seen)
    elif isinstance(obj, dict):
        h.update(b"dict")
        for key in sorted(obj, key=repr):
            _feed(h, key, seen)
            _feed(h, obj[key], seen)
    elif isinstance(obj, _PLAIN):
        h.update(repr(obj).encode())
    elif isinstance(obj, np.ndarray):
        h.update(f"{obj.dtype}{obj.shape}".encode() + np.ascontiguousarray(obj).tobytes())
    else:  # another object (its repr may hold an address): its type and its module's source
        cls = type(obj)
        h.update(f"<{cls.__module__}.{cls.__qualname__}>".encode())
        h.update(_module_source(cls.__module__).encode())


def _module_source(module: str) -> str:
    """The hash of the source file of ``module`` (empty when it has none, e.g. ``__main__``
    in a notebook); a file edited, and reloaded, since is hashed again."""
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if not path or not os.path.isfile(path):
        return ""
    st = os.stat(path)
    return _file_hash(path, st.st_mtime_ns, st.st_size)


@functools.cache
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    return file_hash(path)


def code_fingerprint(*objs) -> str:
    """A hash of the code that computes with ``objs`` (objects, or classes): the source file
    of every class in each one's type hierarchy (plug-ins' and torch's alike), and torch's
    version (its compiled kernels), so edited code never meets what the old code cached."""
    import torch

    classes = [obj if isinstance(obj, type) else type(obj) for obj in objs]
    modules = sorted({cls.__module__ for c in classes for cls in c.__mro__
                      if cls.__module__ != "builtins"})
    h = hashlib.sha256(torch.__version__.encode())
    for module in modules:
        h.update(f"{module}:{_module_source(module)}".encode())
    return h.hexdigest()[:16]


def path_fingerprint(path: str | os.PathLike) -> str:
    """A hash of a data file's bytes, or of every file's relative path and bytes in a folder."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        h.update(file_hash(f).encode())
    return h.hexdigest()[:16]
