"""A folder of built wheels and sdists served to pip: flat (``--find-links DIR``) and as a PEP 503
simple index (``--index-url file://DIR/simple``), and the sha256 of each file for the registry.

``scripts/build-dists`` builds every distribution of a source checkout, dates each sdist with
:func:`date_sdist`, then writes the index with :func:`write`.
"""
from __future__ import annotations

import gzip
import hashlib
import html
import io
import os
import tarfile
from pathlib import Path

from ..cache import atomic_path
from ..errors import HyplibError

SUFFIXES = (".whl", ".tar.gz")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse(filename: str) -> tuple[str, str]:
    """(normalized distribution name, version) of a wheel or sdist file name."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        name, version, *_ = (parse_wheel_filename(filename) if filename.endswith(".whl")
                             else parse_sdist_filename(filename))
    except (InvalidWheelFilename, InvalidSdistFilename) as exc:
        raise HyplibError(f"{filename}: not a wheel or sdist file name ({exc})") from None
    return str(name), str(version)


def artefacts(folder: Path) -> list[Path]:
    """The wheels and sdists directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.name.endswith(SUFFIXES) and p.is_file())


def files_of(folder: Path, distribution: str, version: str) -> list[dict]:
    """The registry's ``files`` of ``distribution`` ``version`` in ``folder``: name and sha256."""
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    want = (canonicalize_name(distribution), Version(version))
    found = [(p, parse(p.name)) for p in artefacts(folder)]
    return [{"filename": p.name, "sha256": sha256(p)} for p, (name, got) in found
            if (name, Version(got)) == want]


def write(folder: Path) -> Path:
    """Write ``folder/simple/``: a PEP 503 page per distribution linking its files (with their
    sha256) and a root page listing the distributions. Returns the ``simple`` folder."""
    folder = Path(folder)
    by_name: dict[str, list[Path]] = {}
    for path in artefacts(folder):
        by_name.setdefault(parse(path.name)[0], []).append(path)
    if not by_name:
        raise HyplibError(f"no wheel or sdist in {folder}: build them first (scripts/build-dists)")
    simple = folder / "simple"
    links = [f'<a href="{html.escape(name)}/">{html.escape(name)}</a>' for name in sorted(by_name)]
    _page(simple / "index.html", "Simple index", links)
    for name, paths in by_name.items():
        links = [f'<a href="../../{html.escape(p.name)}#sha256={sha256(p)}">{html.escape(p.name)}'
                 f'</a>' for p in paths]
        _page(simple / name / "index.html", f"Links for {name}", links)
    return simple


def date_sdist(path: str | os.PathLike, epoch: int) -> None:
    """Rewrite an sdist so that no byte depends on when it was built: every member dated
    ``epoch`` at the latest (the files setuptools generates are dated now), the gzip header too."""
    out = io.BytesIO()
    with tarfile.open(path) as src, \
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            member.mtime = min(member.mtime, epoch)
            member.pax_headers = {}
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=epoch) as f:
        f.write(out.getvalue())


def _page(path: Path, title: str, links: list[str]) -> None:
    body = "<br/>\n".join(links)
    with atomic_path(path) as tmp:
        tmp.write_text(f"<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" "
                       f"content=\"1.0\"><title>{title}</title></head><body>\n{body}\n"
                       f"</body></html>\n", encoding="utf-8")
