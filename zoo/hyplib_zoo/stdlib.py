"""``python-stdlib``: the running interpreter's own standard library source, cut into
self-contained chunks (whole top-level statements, or blocks inside them), as records."""
from __future__ import annotations

import ast
import hashlib
import re
import sysconfig
from pathlib import Path
from typing import Iterator

import datasets

from hyplib import DataSource


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(split: str = "all") -> list[Path]:
    """The standard library's ``.py`` files (tests, IDLE and site-packages excluded), sorted.

    ``split`` is ``"train"`` (9 in 10 files), ``"test"`` (the rest, chosen by a hash of the
    relative path, so the split is stable across machines) or ``"all"``.
    """
    root = stdlib_root()
    skip = {"test", "tests", "idle_test", "idlelib", "site-packages", "__pycache__", "turtledemo"}
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if skip.intersection(rel.parts[:-1]) or rel.name.startswith("test_"):
            continue
        held_out = int(hashlib.sha1(rel.as_posix().encode()).hexdigest(), 16) % 10 == 0
        if split == "all" or (split == "test") == held_out:
            files.append(path)
    return files


def read_source(path: Path) -> str | None:
    """A source file's text with newlines normalised, or None if it does not parse."""
    try:
        text = path.read_text(encoding="utf-8")
        ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return None
    return text.replace("\r\n", "\n")


def source_chunks(source: str, max_chars: int) -> Iterator[tuple[int, str]]:
    """Cut Python source into chunks of at most ``max_chars`` that tokenize on their own.

    A chunk is a run of consecutive statements of one block (comments and blank lines after a
    statement go with it), so it never dedents below its first line and never starts inside a
    string or bracket. A statement too long for one chunk is cut into its inner blocks; a long
    statement without inner blocks is left out. Yields (first line number, text).
    """
    lines = re.split(r"(?<=\n)", source)

    def first_line(node: ast.stmt) -> int:
        return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])

    def inner_blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if block and isinstance(block[0], ast.stmt):
                yield block
        for sub in getattr(node, "handlers", []) + getattr(node, "cases", []):
            yield sub.body

    def block_chunks(block: list[ast.stmt], end: int) -> Iterator[tuple[int, str]]:
        starts = [first_line(s) for s in block] + [end]
        buf_start, buf = 0, ""
        for i, stmt in enumerate(block):
            stop = starts[i + 1] if i + 1 < len(block) else min(end, stmt.end_lineno + 1)
            text = "".join(lines[starts[i] - 1:stop - 1])
            if buf and (len(buf) + len(text) > max_chars or len(text) > max_chars):
                if buf.strip():
                    yield buf_start, buf
                buf = ""
            if len(text) > max_chars:
                for inner in inner_blocks(stmt):
                    yield from block_chunks(inner, inner[-1].end_lineno + 1)
                continue
            buf_start, buf = (buf_start, buf + text) if buf else (starts[i], text)
        if buf.strip():
            yield buf_start, buf

    tree = ast.parse(source)
    if tree.body:
        yield from block_chunks(tree.body, len(lines) + 1)


def python_stdlib(split: str = "test", max_chars: int = 1024, max_files: int | None = None
                  ) -> datasets.Dataset:
    """Records cut from the standard library's source (held-out files by default)."""
    root = stdlib_root()
    rows: dict[str, list] = {"text": [], "source": [], "line": []}
    for path in stdlib_files(split)[:max_files]:
        source = read_source(path)
        if source is None:
            continue
        for line, text in source_chunks(source, max_chars):
            rows["text"].append(text)
            rows["source"].append(path.relative_to(root).as_posix())
            rows["line"].append(line)
    return datasets.Dataset.from_dict(rows)


SOURCES = {
    "python-stdlib": DataSource(
        "python-stdlib", python_stdlib,
        "Chunks of the running Python's standard library source (held-out files)."),
}
