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

from .errors import HyplibError


@dataclass(frozen=True)
class DataSource:
    """A named data set: ``load(**kwargs)`` returns a ``datasets.Dataset`` of records."""

    name: str
    load: Callable[..., datasets.Dataset]
    description: str = ""


def load_path(path: str | os.PathLike) -> datasets.Dataset:
    """Records from a file or folder: a saved ``datasets`` folder, or json/jsonl/csv/parquet/txt."""
    path = Path(path)
    if path.is_dir():
        return datasets.load_from_disk(str(path))
    builders = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet",
                ".txt": "text"}
    builder = builders.get(path.suffix)
    if builder is None or not path.exists():
        raise HyplibError(f"cannot read data from {str(path)!r}: give a data set name (see "
                          f"`hyplib list datasets`), a saved datasets folder, or an existing "
                          f"{'/'.join(sorted(builders))} file")
    return datasets.load_dataset(builder, data_files=str(path), split="train")
