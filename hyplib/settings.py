"""The named choices of a pass, torch-free, shared by the API and the CLI so both offer and
check the same values before any work starts."""
from __future__ import annotations

from .errors import HyplibError

POOLS = ("first", "last", "mean")
PRECISIONS = ("float32", "tf32", "bfloat16", "float16")


def check_choice(what: str, value, choices) -> None:
    """Raise a :class:`HyplibError` naming ``what`` and the valid ``choices``."""
    if value not in choices:
        raise HyplibError(f"{what} must be one of {', '.join(map(repr, choices))}, not {value!r}")
