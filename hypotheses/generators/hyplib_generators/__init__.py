"""Hypothesis generators (see :mod:`hyplib.generation`): from a data set, one hypothesis per
frequent character, character class, token, character n-gram and regex class
(:mod:`.text`); per UD feature value, UPOS tag and relation (:mod:`.ud`); per grammar
production (:mod:`.grammar`); per concept of a label map (:mod:`.concepts`)."""
from hyplib import Generator, hookimpl

from . import concepts, grammar, text, ud


@hookimpl
def hyplib_generators():
    return [
        Generator("chars", text.chars, ("text",), "one per frequent character: auto.char.e"),
        Generator("charclass", text.charclasses, ("text",),
                  "one per Unicode general category: auto.charclass.Lu"),
        Generator("tokens", text.tokens, ("text",),
                  "one per frequent token (a word, or a run of punctuation): auto.token.the; "
                  "word-level where records have words, else the token's characters"),
        Generator("ngrams", text.ngrams, ("text",),
                  "one per frequent character bigram and trigram: auto.ngram.ing"),
        Generator("regex", text.regexes, ("text",),
                  "one per regular-expression class that matches often: auto.regex.number"),
        Generator("feats", ud.feats, ("feats", "word_spans"),
                  "one per UD morphological feature value: auto.feats.Number=Plur"),
        Generator("ud", ud.tags, ("upos", "deprel", "word_spans"),
                  "one per UPOS tag and dependency relation: auto.upos.NOUN, auto.deprel.nsubj"),
        Generator("grammar", grammar.productions, ("tree", "word_spans"),
                  "one per production in the records' parse trees (their tree field), or of "
                  "those an NLTK grammar has: auto.rule.NP=Det+N"),
        Generator("concepts", concepts.concepts, (),
                  "one per class of a categorical hypothesis (a label map): auto.concept.sky",
                  needs=("hypothesis",)),
    ]
