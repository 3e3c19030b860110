"""Static pack manifests: what a pack provides, read without importing the pack (as napari's
npe2 does), so listing and searching stay fast and a pack is imported on its first use.

A pack ships ``manifest.json`` in its top-level import package: its version and, per kind, each
item's name, description and the module that defines it (hypotheses also their kind, level and
classes; studies their title). ``hyplib registry update`` writes the manifests of a source
checkout's packs; ``hyplib registry verify`` and the test suite check them against the packs.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

FILE = "manifest.json"


def package_dir(value: str) -> Path | None:
    """The folder of the top-level package behind the entry-point value ``value``, found
    without executing the package."""
    try:
        spec = importlib.util.find_spec(value.split(":")[0].split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate(value: str) -> Path | None:
    """The manifest of the package behind ``value``; None if it ships none."""
    folder = package_dir(value)
    path = folder / FILE if folder else None
    return path if path and path.is_file() else None


def read(value: str, version: str) -> dict | None:
    """The manifest for an installed pack at ``version``; None when there is none or it was
    written for another version (then the pack is imported to learn what it provides)."""
    path = locate(value)
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == version else None


def describe(kind: str, item) -> dict:
    """One provided item as the manifest (and the registry) record it."""
    out = {"name": item.name}
    if kind == "hypotheses":
        out.update(kind=item.kind, level=item.level)
        if item.classes:
            out["classes"] = list(item.classes)
    text = getattr(item, "title", None) if kind == "studies" else getattr(item, "description", "")
    if text:
        out["title" if kind == "studies" else "description"] = text
    return out


def build(catalog, pack: str) -> dict:
    """The manifest of the loaded ``pack`` of ``catalog``."""
    found = next(p for p in catalog.packs if p.name == pack)
    provides: dict[str, list] = {}
    for kind in catalog.kinds:
        items = [i for _, owner, i in catalog.entries(kind) if owner == pack]
        if items:
            provides[kind] = [describe(kind, i) for i in items]
    return {"pack": pack, "distribution": found.dist, "version": found.version,
            "provides": provides}


def dumps(doc) -> str:
    """JSON indented by two spaces, each innermost object or list on one line."""
    def one_line(m):
        text = m.group()
        return text[0] + re.sub(r"\n\s*", " ", text[1:-1]).strip() + text[-1]

    return re.sub(r"[\[{]\n[^\[\]{}]*?\n\s*[\]}]", one_line,
                  json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
