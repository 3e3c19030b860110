"""hyplib-zoo: the models and data sets that packs and studies share.

Models: ``charlm`` (char LSTM on Python source), ``wordlm`` (word LSTM LM on UD English-EWT),
``smollm2`` (SmolLM2-135M), ``hf:<path-or-hub-id>`` (any Hugging Face model with a fast
tokenizer). Data sets: ``python-stdlib``, ``ud-english-ewt``. Each module is imported on first
use.
"""
from hyplib import hookimpl


@hookimpl
def hyplib_models():
    from . import charlm, hf, wordlm

    return [*charlm.RECIPES.values(), *wordlm.RECIPES.values(), *hf.RECIPES.values()]


@hookimpl
def hyplib_datasets():
    from .stdlib import SOURCES
    from .ud import SOURCE as UD_EWT

    return [*SOURCES.values(), UD_EWT]
