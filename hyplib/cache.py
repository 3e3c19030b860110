"""The user's cache directory, and writes that never leave a half-written file behind."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import CacheWriteError
from .integrity import is_write_failure, part_prefix, sweep_parts, write_error


def cache_root() -> Path:
    """``$HYPLIB_CACHE``, else ``$XDG_CACHE_HOME/hyplib``, else ``~/.cache/hyplib``."""
    return Path(os.environ.get("HYPLIB_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hyplib")


def cache_dir(*parts: str) -> Path:
    """:func:`cache_root` / ``parts``; created, and cleared of the ``.part`` files that killed
    runs left (:func:`~hyplib.integrity.sweep_parts`)."""
    path = cache_root().joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    if os.access(path, os.W_OK):
        sweep_parts(path)
    return path


def digest(obj) -> str:
    """A short stable hash of a JSON-serialisable object."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    An ``OSError`` of writing (disk full, read-only folder) becomes a
    :class:`~hyplib.errors.CacheWriteError` naming ``path``; the temporary file is removed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=part_prefix(path.name), suffix=".part", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except CacheWriteError:
            raise
        except OSError as exc:
            if not is_write_failure(exc):
                raise
            raise write_error(path, exc) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
