"""Image concepts for hyplib: per-pixel masks from PNG label maps and the Broden layout, the 11
basic colour terms, a generated scene set with exact masks, image-level class labels; every
torchvision classifier and a CNN trained on the scenes; study ``bau2017`` (NetDissect).

``HYPLIB_BRODEN`` (a Broden folder) adds the data set ``broden`` and one hypothesis per Broden
category (``vision.broden.object``, ...).
"""
import os

from hyplib import hookimpl


@hookimpl
def hyplib_hypotheses():
    from . import colour, scenes

    return colour.HYPOTHESES + scenes.HYPOTHESES + _broden()[1]


@hookimpl
def hyplib_datasets():
    from . import scenes

    return [scenes.SOURCE] + _broden()[0]


@hookimpl
def hyplib_models():
    from hyplib import ModelRecipe
    from hyplib_vision.classifiers import torchvision_model

    from . import cnn

    def build(name):
        return lambda progress=True, **kw: torchvision_model(name, progress=progress, **kw)

    return cnn.RECIPES + [ModelRecipe(n, build(n), f"torchvision {n} with ImageNet weights (those installed here, else the default)")
                          for n in _torchvision_classifiers()]


def _torchvision_classifiers() -> list[str]:
    """torchvision's classification models. Listing them imports torchvision (1.5 s, on every
    command), so the list is cached per torchvision version."""
    import json
    from importlib.metadata import version

    from hyplib import atomic_path, cache_dir

    path = cache_dir("torchvision") / f"classifiers-{version('torchvision')}.json"
    if path.exists():
        return json.loads(path.read_text())
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(names))
    return names


@hookimpl
def hyplib_studies():
    from .studies import BAU2017

    return [BAU2017]


def _broden():
    """The Broden data source and hypotheses when ``HYPLIB_BRODEN`` names a folder."""
    root = os.environ.get("HYPLIB_BRODEN")
    if not root:
        return [], []
    from hyplib import DataSource

    from .masks import broden, broden_hypotheses

    return ([DataSource("broden", lambda split=None: broden(root, split)[0], f"Broden at {root}")],
            broden_hypotheses(root))
