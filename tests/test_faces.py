"""The core's faces: packs import only ``hyplib`` and ``hyplib.study``; the core has no import
circles; listing imports no pack and no torch."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import hyplib

ROOT = Path(__file__).resolve().parent.parent
FACES = {"hyplib", "hyplib.study"}
PACK_SOURCES = sorted([*ROOT.glob("hypotheses/*/hyplib_*"), ROOT / "zoo/hyplib_zoo"])


def _imports(path: Path, top_level_only: bool = False):
    """(line, imported module) of every import in ``path`` (module level only if asked)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.lineno, ("." * node.level) + (node.module or "")


def private_imports(folder: Path) -> list[str]:
    return [f"{f.relative_to(folder)}:{line} imports {mod}"
            for f in sorted(folder.rglob("*.py")) for line, mod in _imports(f)
            if mod.split(".")[0] == "hyplib" and mod not in FACES]


@pytest.mark.parametrize("folder", PACK_SOURCES, ids=lambda p: p.name)
def test_packs_use_only_the_faces(folder):
    assert private_imports(folder) == []


def test_the_check_catches_a_private_import(tmp_path):
    (tmp_path / "mod.py").write_text("import hyplib.study\n\ndef f():\n"
                                     "    from hyplib.engine import inspect\n")
    assert private_imports(tmp_path) == ["mod.py:4 imports hyplib.engine"]


def test_every_face_name_resolves():
    for name in hyplib.__all__:
        assert getattr(hyplib, name) is not None, name
    from hyplib import study

    for name in study.__all__:
        assert getattr(study, name) is not None, name


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def core_import_graph() -> dict[str, set[str]]:
    """Module-level imports between the core's modules (imports inside functions are lazy and
    do not make a circle at import time)."""
    graph = {}
    for f in sorted((ROOT / "hyplib").rglob("*.py")):
        name = _module_name(f)
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for _, mod in _imports(f, top_level_only=True):
            if mod.startswith("."):
                level = len(mod) - len(mod.lstrip("."))
                base = package.split(".")
                base = base[:len(base) - level + 1]
                mod = ".".join(base + ([mod.lstrip(".")] if mod.lstrip(".") else []))
            if mod.split(".")[0] == "hyplib" and mod != name:
                edges.add(mod)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_core_has_no_import_circles():
    graph = core_import_graph()
    assert "hyplib.engine" in graph and "hyplib.annotation" in graph["hyplib.engine"]
    assert circles(graph) == []


def test_circle_detection_finds_one():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_listing_imports_no_pack_and_no_torch():
    code = ("import json, sys\nfrom hyplib.cli import main\nmain(['list'])\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.splitlines()[-1]))
    assert "pos.upos" in out.stdout and "correlation" in out.stdout  # listed from manifests
    assert not loaded & {"torch", "pandas", "matplotlib", "datasets", "hyplib_pos",
                         "hyplib_grammar", "hyplib_vision", "hyplib_zoo", "hyplib_text",
                         "hyplib_parse"}


def test_importing_hyplib_imports_no_torch():
    code = "import sys, hyplib\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
