"""Cache files that are checked when read: a checksum and schema sidecar, and what to do with
a file that fails the check.

Every cache or checkpoint file ``F`` has a sidecar ``F.sum`` (JSON: the file's size and
SHA-256, and a ``schema`` the writer chose: what the file must hold, e.g. its key, dtype and
shape). :func:`verified` re-hashes the file and compares both; a file that fails (no sidecar,
another size or hash, another schema) is named in a warning and moved aside to
``F.bad-<time>``, so the caller recomputes it and it is never used.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import time
import warnings
from pathlib import Path

from .errors import HyplibWarning

_BLOCK = 1 << 22
STALE_SECONDS = 24 * 3600  # a .part file untouched this long is abandoned, whoever owns it


def file_hash(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def sidecar(path: str | os.PathLike) -> Path:
    return Path(f"{path}.sum")


def seal(path: str | os.PathLike, schema: dict, written: str | os.PathLike) -> None:
    """Write ``path``'s sidecar for the file ``written`` (its temporary copy, about to be moved
    into place: sealing first, a reader never finds the new file without its sidecar): its
    size, SHA-256 and ``schema``."""
    from .cache import atomic_path

    doc = {"bytes": os.path.getsize(written), "sha256": file_hash(written), "schema": schema}
    with atomic_path(sidecar(path)) as tmp:
        tmp.write_text(json.dumps(doc, sort_keys=True, default=str))


def verified(path: str | os.PathLike, schema: dict) -> bool:
    """Whether ``path`` exists and matches its sidecar and ``schema``; a file that exists but
    does not is named in a :class:`~hyplib.errors.HyplibWarning` and moved aside."""
    path = Path(path)
    if not path.exists():
        return False
    problem = _problem(path, json.loads(json.dumps(schema, default=str)))
    if problem is None:
        return True
    quarantine(path, problem)
    return False


def _problem(path: Path, schema: dict) -> str | None:
    try:
        doc = json.loads(sidecar(path).read_text())
    except FileNotFoundError:
        return "it has no checksum sidecar"
    except (OSError, ValueError) as exc:
        return f"its checksum sidecar is unreadable ({exc})"
    if not isinstance(doc, dict):
        return "its checksum sidecar is not a JSON object"
    if doc.get("schema") != schema:
        return f"it holds {doc.get('schema')}, not {schema}"
    if doc.get("bytes") != path.stat().st_size:
        return f"it has {path.stat().st_size} bytes, not the {doc.get('bytes')} it was written with"
    if doc.get("sha256") != file_hash(path):
        return "its checksum does not match (the file changed after it was written)"
    return None


def quarantine(path: str | os.PathLike, why: str) -> Path:
    """Move a bad cache file (and its sidecar) aside to ``PATH.bad-<time>``, with a warning."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    warnings.warn(f"cache file {path} is damaged: {why}; moved aside to {aside.name} and "
                  f"recomputed", HyplibWarning, stacklevel=3)
    for src, dst in ((path, aside), (sidecar(path), sidecar(aside))):
        try:
            os.replace(src, dst)
        except FileNotFoundError:  # another process moved it first
            pass
    return aside


def part_prefix(name: str) -> str:
    """The prefix of a temporary ``.part`` file for ``name``, naming this host and process so
    that a later run can tell an abandoned one (see :func:`sweep_parts`)."""
    return f".{name}.{_host()}-{os.getpid()}."


def sweep_parts(folder: str | os.PathLike, now: float | None = None) -> list[Path]:
    """Remove the ``.part`` files in ``folder`` left by killed runs: those whose owner process
    (on this host) is gone, and any untouched for :data:`STALE_SECONDS`. Returns them."""
    now = time.time() if now is None else now
    host = _host()
    removed = []
    for part in Path(folder).glob(".*.part"):
        owner = part.name[:-len(".part")].rsplit(".", 2)
        try:
            age = now - part.stat().st_mtime
        except FileNotFoundError:
            continue
        h, _, pid = owner[-2].rpartition("-") if len(owner) == 3 else ("", "", "")
        dead = h == host and pid.isdigit() and not _alive(int(pid))
        if dead or age > STALE_SECONDS:
            try:
                part.unlink()
                removed.append(part)
            except FileNotFoundError:
                pass
    return removed


def _host() -> str:
    return socket.gethostname().replace(".", "_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EROFS, errno.EACCES, errno.EPERM)


def is_write_failure(exc: OSError) -> bool:
    """Whether ``exc`` says the disk is full or the folder is not writable."""
    return getattr(exc, "errno", None) in _FULL + _DENIED or "No space left" in str(exc)


def write_error(path: str | os.PathLike, exc: OSError):
    """The :class:`~hyplib.errors.CacheWriteError` for an ``OSError`` raised writing ``path``."""
    from .errors import CacheWriteError

    code = getattr(exc, "errno", None)
    if code in _FULL or "No space left" in str(exc):
        fix = "free some disk space, or point HYPLIB_CACHE at a disk with room"
    elif code in _DENIED:
        fix = "make the folder writable, or point HYPLIB_CACHE (or --out) at a writable folder"
    else:
        fix = "check the disk and the folder's permissions"
    return CacheWriteError(f"could not write {path}: {exc.strerror or exc}; {fix} "
                           f"(nothing was left behind)")
