"""The hook specifications that packs implement (see :mod:`hyplib.plugins`)."""
import pluggy

hookspec = pluggy.HookspecMarker("hyplib")
hookimpl = pluggy.HookimplMarker("hyplib")


@hookspec
def hyplib_hypotheses():
    """Return a list of :class:`hyplib.Hypothesis` this pack contributes."""


@hookspec
def hyplib_generators():
    """Return a list of :class:`hyplib.generation.Generator`: makers of hypotheses from data."""


@hookspec
def hyplib_inspectors():
    """Return a list of inspector classes (see :class:`hyplib.types.Inspector`)."""


@hookspec
def hyplib_models():
    """Return a list of :class:`hyplib.models.ModelRecipe` this pack contributes."""


@hookspec
def hyplib_datasets():
    """Return a list of :class:`hyplib.data.DataSource` this pack contributes."""


@hookspec
def hyplib_studies():
    """Return a list of studies (published analyses with claims) this pack contributes."""
