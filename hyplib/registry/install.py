"""Install and uninstall registry packs with pip, refusing any artefact whose hash it does not list.

A pack is fetched with ``pip download --require-hashes`` as its entry pins it (the ``files`` of
its version, or a URL's ``sha256``), from the configured index (PyPI unless ``--index-url`` or
``--find-links`` say otherwise); so are the registry packs it depends on. Only then does pip
install the verified files; its other dependencies come from the index, or, with
``require_hashes``, must each be pinned with a hash in a ``lock`` file. A registry entry reaches
pip only as ``name==version --hash=...``, ``name @ URL --hash=...`` or a folder inside the
registry's own tree; nothing that starts with ``-``.
"""
from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import HyplibError
from .index import sha256


@dataclass(frozen=True)
class Index:
    """Where pip looks for distributions (pip's own configuration when all are empty)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()

    def args(self) -> list[str]:
        pairs = [("--index-url", self.index_url)] if self.index_url else []
        pairs += [("--extra-index-url", u) for u in self.extra_index_urls]
        pairs += [("--find-links", f) for f in self.find_links]
        for option, value in pairs:
            if not value or value.startswith("-") or any(c.isspace() for c in value):
                raise HyplibError(f"{option} {value!r}: give a URL or a folder, not an option")
        return [f"{option}={value}" for option, value in pairs]

    def where(self) -> str:
        shown = [self.index_url, *self.extra_index_urls, *self.find_links]
        return ", ".join(filter(None, shown)) or "pip's configured index (PyPI by default)"


def normal(dist: str) -> str:
    """A distribution name as PEP 503 normalizes it."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(dist))


def pinned_line(entry: dict) -> str:
    """The hash-pinned pip requirement line of a PEP 508 or URL entry."""
    if "files" in entry:
        hashes = sorted({f["sha256"] for f in entry["files"]})
        return " ".join([f"{entry['distribution']}=={entry['version']}",
                         *(f"--hash=sha256:{h}" for h in hashes)])
    url = entry["requirement"]
    line = url if " @ " in url else f"{entry['distribution']} @ {url}"
    return f"{line} --hash=sha256:{entry['sha256']}"


def download(entry: dict, index: Index, folder: Path) -> Path:
    """Fetch the entry's artefact into ``folder`` with pip in hash-checking mode; the file."""
    folder.mkdir(parents=True)
    req = folder / "requirement.txt"
    req.write_text(pinned_line(entry) + "\n")
    out = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-input", "--no-deps",
                          "--require-hashes", *index.args(), "-r", str(req), "-d", str(folder)],
                         capture_output=True, text=True)
    what = f"{entry['distribution']} {entry['version']}"
    if "DO NOT MATCH THE HASHES" in out.stderr:
        detail = "\n".join(s.strip() for s in out.stderr.splitlines()
                           if s.strip().startswith(("Expected", "Got")))
        raise HyplibError(f"refusing to install {entry['name']!r}: the {what} that "
                          f"{index.where()} serves does not match the registry's sha256; "
                          f"nothing was installed\n{detail}")
    if "No matching distribution" in out.stderr:
        raise HyplibError(f"pip found no {what} at {index.where()}; give the index that "
                          "publishes it: --index-url URL or --find-links DIR")
    if out.returncode:
        raise HyplibError(f"pip could not download {what}:\n{out.stderr[-2000:]}")
    return next(p for p in folder.iterdir() if p != req)


def requires(artefact: Path) -> list[str]:
    """The ``Requires-Dist`` of a wheel or sdist that apply here (no extras)."""
    from packaging.requirements import Requirement

    if artefact.name.endswith(".whl"):
        with zipfile.ZipFile(artefact) as z:
            name = next(n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
            text = z.read(name).decode()
    else:
        with tarfile.open(artefact) as t:
            member = next(m for m in t.getmembers() if re.fullmatch(r"[^/]+/PKG-INFO", m.name))
            text = t.extractfile(member).read().decode()
    found = [Requirement(r) for r in email.parser.Parser().parsestr(text).get_all("Requires-Dist",
                                                                                   [])]
    return [str(r) for r in found if r.marker is None or r.marker.evaluate({"extra": ""})]


def _satisfied(requirement) -> bool:
    try:
        return requirement.specifier.contains(metadata.version(requirement.name), prereleases=True)
    except metadata.PackageNotFoundError:
        return False


def fetch_verified(registry, entry: dict, index: Index, folder: Path) -> dict[str, Path]:
    """Download ``entry``'s artefact and those of the registry packs it needs that are not
    installed, each hash-checked; ``{distribution: file}``."""
    from packaging.requirements import Requirement

    by_dist = {normal(e["distribution"]): e for e in registry.packs}
    fetched, todo = {}, [entry]
    while todo:
        entry = todo.pop()
        if source(entry["requirement"]) == "path":
            raise HyplibError(f"pack {entry['name']!r} installs from {entry['requirement']} in "
                              "the registry's tree, so a pack from an index cannot depend on it")
        path = download(entry, index, folder / normal(entry["distribution"]))
        fetched[normal(entry["distribution"])] = path
        for requirement in map(Requirement, requires(path)):
            dep = by_dist.get(normal(requirement.name))
            if dep is None or normal(dep["distribution"]) in fetched or _satisfied(requirement):
                continue
            if not requirement.specifier.contains(dep["version"], prereleases=True):
                raise HyplibError(f"{entry['distribution']} needs {requirement}; the registry "
                                  f"has {dep['distribution']} {dep['version']}")
            todo.append(dep)
    return fetched


def source(requirement: str) -> str:
    """``"url"``, ``"path"`` (in the registry's tree) or ``"pypi"`` (a PEP 508 requirement)."""
    if "://" in requirement:
        return "url"
    return "path" if "/" in requirement else "pypi"


def tree_path(registry, entry: dict) -> Path:
    """The folder of the registry's own tree that a path entry installs from."""
    path = (registry.root / entry["requirement"]).resolve()
    if registry.root not in path.parents:
        raise HyplibError(f"pack {entry['name']!r}: {entry['requirement']} leads outside the "
                          f"registry's tree {registry.root}; refusing")
    if not path.is_dir():
        raise HyplibError(f"pack {entry['name']!r} installs from {entry['requirement']} in the "
                          f"hyplib repository, not found at {path}; use a source checkout")
    return path


def pip_install(registry, entry: dict, index: Index = Index(), target=None, deps: bool = True,
                require_hashes: bool = False, lock: str | os.PathLike | None = None) -> None:
    """Install ``entry``'s verified artefact (and the registry packs it needs) with pip."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-input", *index.args()]
    pip += [f"--target={Path(target).resolve()}"] if target else []
    pip += [] if deps else ["--no-deps"]
    with tempfile.TemporaryDirectory(prefix="hyplib-install-") as tmp:
        if source(entry["requirement"]) == "path":
            _pip(pip + [str(tree_path(registry, entry))], entry)
            return
        fetched = (fetch_verified(registry, entry, index, Path(tmp)) if deps else
                   {"": download(entry, index, Path(tmp) / "pack")})
        if not require_hashes:
            _pip(pip + [str(p) for p in fetched.values()], entry)
            return
        req = Path(tmp) / "requirements.txt"
        lines = [f"{p} --hash=sha256:{sha256(p)}" for p in fetched.values()]
        req.write_text("\n".join(lines + ([f"-r {Path(lock).resolve()}"] if lock else [])) + "\n")
        _pip(pip + ["--require-hashes", "-r", str(req)], entry)


def _pip(command: list[str], entry: dict) -> None:
    out = subprocess.run(command, capture_output=True, text=True)
    if re.search(r"ERROR: .*--require-hashes mode", out.stderr):
        after = out.stderr.split("--require-hashes mode", 1)[1].splitlines()[1:]
        missing = [s.split()[0] for s in after if s.startswith("    ")]
        raise HyplibError(f"--require-hashes: no hash for {', '.join(missing)}; pin every "
                          "dependency with its hash in a lock file (pip-compile "
                          "--generate-hashes, or `pip hash`) and give it with --lock FILE; "
                          "nothing was installed")
    if out.returncode:
        raise HyplibError(f"pip could not install {entry['name']!r}:\n{out.stderr[-2000:]}")


def uninstall(registry, name: str) -> str:
    """pip-uninstall the pack ``name``'s distribution (not its dependencies); its version."""
    entry = registry.get(name)
    try:
        version = metadata.version(entry["distribution"])
    except metadata.PackageNotFoundError:
        raise HyplibError(f"pack {name!r} ({entry['distribution']}) is not installed") from None
    out = subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "--no-input",
                          entry["distribution"]], capture_output=True, text=True)
    if out.returncode:
        raise HyplibError(f"pip could not uninstall {entry['distribution']}:\n"
                          f"{out.stderr[-2000:]}")
    return version
