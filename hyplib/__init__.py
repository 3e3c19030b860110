"""hyplib: deep neural inspection with a library of hypotheses.

Run a model over records, record what its hidden units do on each symbol, and score every unit
against hypotheses (functions that label the same symbols) with streaming inspectors.

This module is the face for users and pack authors: everything a pack needs is importable from
``hyplib`` (and, for studies, :mod:`hyplib.study`); other modules of the core are private. Names
are loaded on first use, so ``import hyplib`` stays cheap (no torch).
"""
import importlib

__version__ = "0.2.0"

# name -> the private module that defines it
_EXPORTS = {
    "HyplibError": "errors", "AnnotationError": "errors", "BehaviourError": "errors",
    "LayerError": "errors", "UnknownNameError": "errors", "CacheWriteError": "errors",
    "DefinitionError": "errors", "HyplibWarning": "errors",
    "hookimpl": "hookspecs",
    "Hypothesis": "types", "Inspector": "types", "LabelColumn": "types", "Scores": "types",
    "hypothesis": "types", "unit_name": "types", "as_label_array": "types",
    "inspect": "engine", "behaviours": "engine",
    "catalog": "plugins", "load_catalog": "plugins",
    "annotate": "annotation",
    "DataSource": "data", "load_path": "data",
    "Encoded": "models", "Model": "models", "TextModel": "models", "ImageModel": "models",
    "ModelRecipe": "models",
    "char_spans": "models",
    "Result": "results",
    "Generator": "generation", "frequent": "generation", "generate": "generation",
    "discover": "discovery",
    "control_task": "control", "shuffled_labels": "control",
    "pick_device": "device", "model_precision": "device", "PRECISIONS": "settings",
    "symbol_spans": "align", "Upsampler": "align", "feature_map": "align", "POOLS": "settings",
    "ablate": "intervene",
    "unit_means": "intervene",
    "record": "extract",
    "atomic_path": "cache", "cache_dir": "cache", "digest": "cache",
    "seal": "integrity", "verified": "integrity",
    "topo": "report",
}

__all__ = ["__version__", *_EXPORTS, "query"]


def __getattr__(name):
    if name == "query":  # the package hyplib.query, callable: hyplib.query("INSPECT ...")
        return importlib.import_module(".query", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hyplib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
