"""The agreement grammar: dependencies and subject-number labels on hand-checked sentences."""
import nltk
import pytest
from hyplib_grammar import agreement as A
from nltk import Tree

from hyplib import AnnotationError

# (words, subject noun, main verb, plural, condition, subject_number labels), by hand
SENTENCES = [
    ("the cats sleep", 1, 2, True, "simple", [0, 1, 0]),
    ("the dog near the cats often sleeps", 1, 6, False, "attractor", [0, -1, -1, -1, -1, -1, 0]),
    ("the dogs that the girl likes see the cat", 1, 6, True, "attractor",
     [0, 1, 1, 1, 1, 1, 0, 0, 0]),
    ("the boy that sees the boys with the girl smiles", 1, 9, False, "attractor",
     [0] + [-1] * 8 + [0]),
    ("the pilots behind the singers wait", 1, 5, True, "congruent", [0, 1, 1, 1, 1, 0]),
]


@pytest.mark.parametrize("text,subject,verb,plural,condition,labels", SENTENCES)
def test_dependency_and_labels_on_parsed_sentences(text, subject, verb, plural, condition,
                                                   labels):
    trees = list(nltk.ChartParser(A.AGREEMENT).parse(text.split()))
    assert trees, f"{text!r} should be in the grammar's language"
    for tree in trees:  # the same main dependency in every parse
        dep = A.dependency(tree)
        assert (dep.subject, dep.verb, dep.plural, dep.condition) == (subject, verb, plural,
                                                                      condition)
        assert A.subject_signal(tree).tolist() == labels
    assert A.subject_number.fn({"tree": [trees[0].pformat(margin=1000)]})[0].tolist() == labels


def test_agreement_is_enforced_by_the_grammar():
    parser = nltk.ChartParser(A.AGREEMENT)
    assert not list(parser.parse("the dog near the cats sleep".split()))
    assert not list(parser.parse("the dogs that the girl like see the cat".split()))
    assert A.OTHER_FORM["sleeps"] == "sleep" and A.OTHER_FORM["greet"] == "greets"


def test_corpus_states_and_errors():
    data = A.corpus(200, seed=5)
    deps = [A.dependency(Tree.fromstring(t)) for t in data["tree"]]
    assert {d.condition for d in deps} == {"simple", "congruent", "attractor"}
    assert all(data["words"][i][d.verb] in A.OTHER_FORM for i, d in enumerate(deps))
    depth = next(h for h in A.HYPOTHESES if h.name == "grammar.agreement.depth")
    # "the cats sleep": (S (NP_pl (Det the) (N_pl cats)) (VP_pl (Vi_pl sleep)))
    assert depth.fn({"text": ["the cats sleep"]}) == [[2, 2, 2]]
    with pytest.raises(AnnotationError, match="needs records with a 'tree' column"):
        A.subject_number.fn({"text": ["the cats sleep"]})
