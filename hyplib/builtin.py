"""The core's own contributions: the built-in model recipes and data sets."""
from .hookspecs import hookimpl


@hookimpl
def hyplib_models():
    from .models.charlm import RECIPES

    return list(RECIPES.values())


@hookimpl
def hyplib_datasets():
    from .data import SOURCES
    from .ud import SOURCE as UD_EWT

    return [*SOURCES.values(), UD_EWT]
