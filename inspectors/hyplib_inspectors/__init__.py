"""hyplib's scoring inspectors, registered through the ``hyplib`` entry-point group."""
from hyplib import hookimpl

from .correlation import Correlation


@hookimpl
def hyplib_inspectors():
    return [Correlation]
