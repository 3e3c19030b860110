"""``hyplib new-pack``: scaffold a hypothesis pack that pip-installs and registers itself."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from string import Template

from .errors import HyplibError
from .registry import dumps

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "hyplib-$name"
version = "0.1.0"
description = "hyplib hypotheses: $name."
requires-python = ">=3.11"
license = "MIT"
dependencies = ["hyplib>=0.2,<0.3"]

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points.hyplib]
$name = "hyplib_$name"

[tool.setuptools]
packages = ["hyplib_$name"]
'''

MODULE = '''\
"""hyplib pack $name: hypotheses found by hyplib through the `hyplib` entry-point group.

A hypothesis is a pure function of one record's text. It returns one label per character
(level="char"), per word ("word": the record's `word_spans`) or one per record ("record").
Kinds: "binary", "categorical" (give classes=...) or "continuous". Bump `version` whenever
the labels change: hyplib caches annotations by hypothesis name and version.
"""
import hyplib

VOWELS = frozenset("aeiouAEIOU")


@hyplib.hypothesis("$name.is_vowel", kind="binary", level="char", version="1")
def is_vowel(text):
    """The character is an ASCII vowel."""
    return [c in VOWELS for c in text]


@hyplib.hookimpl
def hyplib_hypotheses():
    """Every hypothesis this pack contributes: add new ones to this list."""
    return [is_vowel]
'''

TEST = '''\
"""Tests of the $name pack: its labels, and that hyplib finds it once pip-installed."""
import hyplib_$name as pack
from hyplib import as_label_array, load_catalog


def test_is_vowel_labels_each_character():
    labels = as_label_array(pack.is_vowel({"text": ["Hello"]})[0], pack.is_vowel)
    assert labels.tolist() == [0, 1, 0, 0, 1]


def test_pack_is_registered(monkeypatch):
    monkeypatch.setenv("HYPLIB_PLUGINS", "$name")
    catalog = load_catalog()
    assert [p.error for p in catalog.packs if p.name == "$name"] == [None]
    assert catalog.get("hypotheses", "$name.is_vowel") is pack.is_vowel
'''


def registry_entry(name: str) -> dict:
    """The registry entry of a freshly scaffolded pack, once published on PyPI."""
    return {
        "name": name, "kind": "hypotheses", "summary": f"hyplib hypotheses: {name}.",
        "version": "0.1.0", "distribution": f"hyplib-{name}",
        "requirement": f"hyplib-{name}>=0.1,<0.2",
        "files": [{"filename": f"hyplib_{name}-0.1.0-py3-none-any.whl",
                   "sha256": "the published wheel's: sha256sum dist/*.whl"}],
        "entry_point": f"{name} = hyplib_{name}", "hyplib": ">=0.2,<0.3",
        "license": {"code": "MIT", "data": None}, "homepage": None,
        "maintainers": ["your name <you@example.org>"],
        "provides": {"hypotheses": [
            {"name": f"{name}.is_vowel", "kind": "binary", "level": "char"}]},
        "artefacts": [], "status": {"failing": "not yet verified (hyplib registry verify)"},
    }


def new_pack(name: str, directory: str | Path | None = None) -> list[Path]:
    """Write a working pack called ``name`` into ``directory`` (default ``hyplib-NAME``)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise HyplibError(f"pack name {name!r}: use lower-case letters, digits and _ "
                          "(it names the module hyplib_NAME and the hypotheses NAME.*)")
    root = Path(directory or f"hyplib-{name}")
    if root.exists() and any(root.iterdir()):
        raise HyplibError(f"{root} exists and is not empty")
    files = {
        "pyproject.toml": Template(PYPROJECT).substitute(name=name),
        f"hyplib_{name}/__init__.py": Template(MODULE).substitute(name=name),
        f"tests/test_{name}.py": Template(TEST).substitute(name=name),
        "registry-entry.json": dumps(registry_entry(name)),
    }
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def _cmd_new_pack(args) -> int:
    written = new_pack(args.name, args.dir)
    root = written[0].parent
    root = root if "/" in str(root) else f"./{root}"  # so that pip reads a path, not a name
    print("\n".join(f"wrote {p}" for p in written))
    print(f"next: pip install -e {root} && hyplib list hypotheses; pytest {root}/tests; "
          f"add {root}/registry-entry.json to registry.json (see CONTRIBUTING.md)", file=sys.stderr)
    return 0


def add_parser(subparsers) -> None:
    """Add ``hyplib new-pack NAME [--dir DIR]`` to the CLI's subcommands."""
    p = subparsers.add_parser("new-pack", help="scaffold a new hypothesis pack")
    p.add_argument("name", help="pack name: the entry point, module hyplib_NAME, hypotheses NAME.*")
    p.add_argument("--dir", help="where to write it (default: ./hyplib-NAME)")
    p.set_defaults(func=_cmd_new_pack)
