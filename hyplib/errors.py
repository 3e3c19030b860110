"""Errors that tell the user what went wrong and how to fix it."""
from __future__ import annotations


class HyplibError(Exception):
    """Base class of hyplib's user-facing errors."""


class UnknownNameError(HyplibError, KeyError):
    """A hypothesis, inspector, model, dataset or layer name that does not exist."""

    def __init__(self, kind: str, name: str, names: list[str], note: str = ""):
        from .plugins import SINGULAR, close_matches

        self.kind, self.name, self.names = kind, name, names
        hits = close_matches(name, names)
        if hits:
            hint = f"did you mean {', '.join(map(repr, hits))}?"
        elif names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            hint = f"known {kind}: {shown}"
        else:
            hint = f"no {kind} are installed"
        super().__init__(f"unknown {SINGULAR.get(kind, kind)} {name!r}: {hint}{note}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class LayerError(UnknownNameError):
    """A layer name that is not a submodule of the model."""

    def __init__(self, model: str, name: str, names: list[str]):
        from .plugins import close_matches

        HyplibError.__init__(self)
        self.kind, self.name, self.names = "layers", name, names
        hits = close_matches(name, names)
        hint = f"did you mean {', '.join(map(repr, hits))}? " if hits else ""
        self.args = (f"model {model!r} has no layer {name!r}; {hint}"
                     f"valid layers (dotted module names): {', '.join(names)}",)


class AnnotationError(HyplibError):
    """A hypothesis returned labels that do not fit the record."""


class BehaviourError(HyplibError):
    """A model produced activations that cannot be inspected (NaN, inf, wrong shape)."""


class CacheWriteError(HyplibError, OSError):
    """A cache or output file could not be written (disk full, read-only folder)."""


class DefinitionError(HyplibError, ValueError):
    """A hypothesis, inspector argument or other definition that hyplib cannot accept."""


class HyplibWarning(UserWarning):
    """Something the user should know that did not stop the run (a damaged cache file that
    was recomputed, a hypothesis whose labels are all the same)."""
