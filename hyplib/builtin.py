"""The core's own contributions: the built-in model recipes and data sets."""
from .hookspecs import hookimpl


@hookimpl
def hyplib_models():
    from .models import charlm, hf, wordlm

    return [*charlm.RECIPES.values(), *wordlm.RECIPES.values(), *hf.RECIPES.values()]


@hookimpl
def hyplib_datasets():
    from .data import SOURCES
    from .ud import SOURCE as UD_EWT

    return [*SOURCES.values(), UD_EWT]
