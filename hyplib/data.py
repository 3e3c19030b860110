"""Data sources: named record collections, loaded as Hugging Face ``datasets.Dataset``.

A record is a row with at least a ``text`` column (or ``image`` for image models). Named data
sets come from packs (``hyplib-zoo`` has ``python-stdlib`` and ``ud-english-ewt``);
:func:`load_path` reads a user's own files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import datasets

from .cache import cache_dir, digest
from .errors import HyplibError
from .fingerprint import path_fingerprint


@dataclass(frozen=True)
class DataSource:
    """A named data set: ``load(**kwargs)`` returns a ``datasets.Dataset`` of records."""

    name: str
    load: Callable[..., datasets.Dataset]
    description: str = ""


def load_path(path: str | os.PathLike) -> datasets.Dataset:
    """Records from a file or folder: a saved ``datasets`` folder, or json/jsonl/csv/parquet/txt.

    The data set's fingerprint (which keys every cache) is a hash of the files' contents, and
    ``datasets``' own cache of a file is kept per content too, so an edited file is read
    afresh even when its timestamps were kept (``cp -p``, ``rsync -a``, ``tar``)."""
    path = Path(path)
    if path.is_dir():
        data = datasets.load_from_disk(str(path))
        data._fingerprint = digest(["folder", path_fingerprint(path)])
        return data
    builders = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet",
                ".txt": "text"}
    builder = builders.get(path.suffix)
    if builder is None or not path.exists():
        raise HyplibError(f"cannot read data from {str(path)!r}: give a data set name (see "
                          f"`hyplib list datasets`), a saved datasets folder, or an existing "
                          f"{'/'.join(sorted(builders))} file")
    if path.stat().st_size == 0:
        raise HyplibError(f"{str(path)!r} is empty: it has no records")
    content = path_fingerprint(path)
    # a CSV's text stays text: "00" is not the number 0, "NA" not a missing value (so an
    # empty cell of another column is "", not NaN)
    options = {"converters": {"text": str}, "keep_default_na": False} if builder == "csv" else {}
    try:
        data = datasets.load_dataset(builder, data_files=str(path), split="train",
                                     cache_dir=str(cache_dir("datasets", content)), **options)
    except Exception as exc:  # datasets' and pyarrow's parse errors name neither file nor fix
        raise HyplibError(f"cannot read {str(path)!r} as {path.suffix} records: "
                          f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                          f" (check that it is UTF-8 {_shape_hint(path.suffix)})") from exc
    if len(data) and builder != "text" and "text" not in data.column_names \
            and "image" not in data.column_names:
        raise HyplibError(f"{str(path)!r} has no 'text' (or 'image') column, only "
                          f"{data.column_names}: each record needs its text in a 'text' field")
    data._fingerprint = digest([builder, content])
    return data


def _shape_hint(suffix: str) -> str:
    return {".jsonl": "with one JSON object per line",
            ".json": "JSON: one object per line, or a list of objects",
            ".csv": "CSV with a header row", ".parquet": "Parquet",
            ".txt": "text, one record per line"}[suffix]
