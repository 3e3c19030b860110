"""The core's own contributions: the standard inspectors."""
from .hookspecs import hookimpl


@hookimpl
def hyplib_inspectors():
    from .inspectors import STANDARD

    return list(STANDARD)
