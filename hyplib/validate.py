"""Checks at the boundary: a pass's numbers and an inspector's parameters, before any work."""
from __future__ import annotations

import inspect as pyinspect
import math
import numbers
import os
import tempfile
from pathlib import Path

from .errors import DefinitionError
from .integrity import part_prefix

# Ranges of inspector parameters by name: (low, high, low included, high included).
_RANGES = {"confidence": (0, 1, False, False), "quantile": (0, 1, False, False),
           "holdout": (0, 1, False, False), "mass": (0, 1, False, True),
           "detect": (0, 1, False, True), "k": (1, math.inf, True, False),
           "bins": (2, math.inf, True, False), "warmup": (1, math.inf, True, False),
           "sketch_k": (1, math.inf, True, False), "minibatch": (1, math.inf, True, False),
           "epochs": (1, math.inf, True, False), "iterations": (1, math.inf, True, False),
           "train_size": (1, math.inf, True, False), "test_size": (1, math.inf, True, False),
           "lr": (0, math.inf, False, False), "l1": (0, math.inf, True, False),
           "l2": (0, math.inf, True, False), "seed": (0, 2 ** 63, True, False),
           "min_effect": (0, 1, True, False), "permutations": (0, math.inf, True, False)}
# The parameters the engine passes itself.
_ENGINE = ("self", "n_units", "columns", "device")


def check_number(what: str, value, *, integer: bool = False, low: float = -math.inf,
                 high: float = math.inf, low_open: bool = False, high_open: bool = False,
                 optional: bool = False) -> None:
    """Raise :class:`~hyplib.errors.DefinitionError` naming ``what`` unless ``value`` is a
    finite number (a whole one with ``integer``) in the range."""
    if value is None and optional:
        return
    kind = "a whole number" if integer else "a number"
    ok = (isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)) \
        and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and \
             (value < high if high_open else value <= high)
    if not ok:
        lo = "" if low == -math.inf else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high == math.inf else f"{'<' if high_open else '<='} {high:g}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise DefinitionError(f"{what} must be {kind}{' ' + bounds if bounds else ''}, "
                              f"not {value!r}")


def check_pass(*, batch_size=32, seed=0, max_records=None, sample=None, tolerance=None,
               top_k=None, window=None) -> None:
    """The numeric arguments of :func:`hyplib.inspect` (and the CLI's options of the same
    names)."""
    check_number("batch_size (--batch-size)", batch_size, integer=True, low=1)
    check_number("seed (--seed)", seed, integer=True, low=0, high=2 ** 32 - 1)
    check_number("max_records (--max-records)", max_records, integer=True, low=1, optional=True)
    check_number("sample (--sample), a fraction,", sample, low=0, high=1, low_open=True,
                 optional=True)
    check_number("tolerance (--tolerance), an interval half-width,", tolerance, low=0,
                 low_open=True, optional=True)
    check_number("top_k (--top-k)", top_k, integer=True, low=1, optional=True)
    check_number("window (--window), in characters (0: records whole),", window, integer=True,
                 low=0, optional=True)
    if top_k is not None and tolerance is None:
        raise DefinitionError("top_k (--top-k) says which units the tolerance applies to: "
                              "give a tolerance (--tolerance) too")


def check_inspector_args(cls: type, args: dict) -> None:
    """Raise unless every key of ``args`` is a parameter of the inspector ``cls`` and every
    value fits: the type of the parameter's default (a number for a number) and, for the
    common parameters (``confidence``, ``k``, ``bins``, ...), their range."""
    params = {n: p for n, p in pyinspect.signature(cls.__init__).parameters.items()
              if n not in _ENGINE and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    name = getattr(cls, "name", cls.__name__)
    for key, value in args.items():
        if key not in params:
            raise DefinitionError(f"inspector {name!r} has no parameter {key!r}; its "
                                  f"parameters: {', '.join(params) or 'none'}")
        default = params[key].default
        what = f"{name}.{key}"
        if key in _RANGES:
            low, high, low_in, high_in = _RANGES[key]
            integer = isinstance(default, int) and not isinstance(default, bool) \
                or key in ("k", "epochs", "train_size")
            if not (value is None and default is None):
                check_number(what, value, integer=integer, low=low, high=high,
                             low_open=not low_in, high_open=not high_in)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise DefinitionError(f"{what} must be True or False, not {value!r}")
        elif isinstance(default, numbers.Real):
            check_number(what, value, integer=isinstance(default, int))
        elif isinstance(default, str) and not isinstance(value, str):
            raise DefinitionError(f"{what} must be a string, not {value!r}")


def check_out(path: str | os.PathLike, suffixes=(".parquet", ".csv")) -> None:
    """Raise unless ``path`` can be written: a known suffix, and a folder that exists (or can
    be made) and is writable. Checked before a run, so a long run is never lost at the end."""
    path = Path(path)
    if path.suffix not in suffixes:
        raise DefinitionError(f"cannot save results as {path.name!r}: use a "
                              f"{' or '.join(suffixes)} name")
    if path.is_dir():
        raise DefinitionError(f"--out {str(path)!r} is a folder: give a file name, e.g. "
                              f"{str(path / ('results' + suffixes[0]))!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=part_prefix(path.name),
                                         suffix=".part"):
            pass
    except OSError as exc:
        raise DefinitionError(f"cannot write results to {str(path)!r}: "
                              f"{exc.strerror or exc}; choose a writable --out") from None
