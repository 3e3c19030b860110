"""HQL parsing: statements come out as objects; malformed or wrong queries get errors that say
where and what to write instead."""
import pytest

import hyplib
from hyplib.query import QueryError, parse
from hyplib.query.statements import Diff, Inspect, Join, ModelRef, Target
from hyplib.testing import PlantedModel

from .conftest import digit, upper


def test_a_full_statement_parses_into_its_parts():
    (s,) = parse("""LET a = INSPECT charlm:lstm.1, charlm:cells.1[3, 5..7]
        AGAINST 'grammar.python.*', control:grammar.python.token_type
        USING correlation, probe(k=20) OVER python-stdlib(max_files=6)
        WHERE length(text) > 200 SAMPLE 10% SEED 3 UNTIL TOLERANCE 0.01 TOP 3
        KEEP |score| > 0.3 ORDER BY score DESC LIMIT 5 PER hypothesis""")
    q = s.query
    assert s.name == "a" and isinstance(q, Inspect) and s.line == 1
    assert q.targets == (Target(ModelRef("charlm"), "lstm.1"),
                         Target(ModelRef("charlm"), "cells.1", (3, 5, 6, 7)))
    assert q.hypotheses == ("grammar.python.*", "control:grammar.python.token_type")
    assert [str(i) for i in q.inspectors] == ["correlation", "probe(k=20)"]
    assert q.data.name == "python-stdlib" and q.data.args == (("max_files", 6),)
    assert q.data.where_text == "length(text) > 200"
    assert (q.data.sample, q.data.seed, q.tolerance, q.top_k) == (0.1, 3, 0.01, 3)
    assert q.post.keep_text == "|score| > 0.3" and q.post.limit == 5
    assert q.post.per == ("hypothesis",) and q.post.order[0].descending


def test_scripts_name_statements_and_keywords_ignore_case():
    statements = parse("""-- a comment
        let a = inspect m against h over d;
        LET b = INSPECT UNTRAINED m AGAINST h OVER d;;
        diff best a, b on hypothesis bootstrap 400 seed 2;
        JOIN a, b ON unit WHERE |score| > 0.5 KEEP a.score > b.score""")
    assert [s.name for s in statements] == ["a", "b", "_3", "_4"]
    assert statements[1].query.targets[0].model == ModelRef("m", untrained=True)
    d = statements[2].query
    assert isinstance(d, Diff) and d.best and (d.replicates, d.seed) == (400, 2)
    assert isinstance(statements[3].query, Join) and statements[3].line == 5


# (query, what the message must say)
MALFORMED = [
    ("INSPECT m AGIANST h OVER d", ["line 1, column 11", "unexpected 'AGIANST'",
                                    "did you mean AGAINST?"]),
    ("INSPECT m AGAINST h", ["line 1, column 20", "unexpected the end of the script",
                             "'OVER'", "'USING'"]),
    ("INSPECT m:lstm.1[3 AGAINST h OVER d", ["column 20", "']'", "'..'"]),
    ("INSPECT m AGAINST h OVER d\nKEEP score >", ["line 2", "a number", "a name"]),
    ("INSPECT m AGAINST h OVER d KEEP score >> 2", ["unexpected '>'"]),
    ("INSPECT m AGAINST h OVER d $", ["unexpected '$'", "'KEEP'"]),
    ("INSPECT AGAINST h OVER d", ["column 9", "AGAINST is a keyword, not a name"]),
    ("INSPECT m AGAINST h USING probe(k 20) OVER d", ["unexpected '20'", "'='"]),
    ("INSPECT m AGAINST h OVER d WINDOW 5..2", ["line 1", "WINDOW 5..2 is empty"]),
    ("INSPECT m AGAINST h OVER d WINDOW BOX 5, 5 .. 2, 9", ["WINDOW BOX 5, 5 .. 2, 9 is empty"]),
    ("INSPECT m AGAINST h OVER d SAMPLE 0", ["SAMPLE 0", "at least 1 record"]),
    ("INSPECT m AGAINST h OVER d SAMPLE 150%", ["not a fraction"]),
    ("INSPECT m:l[9..3] AGAINST h OVER d", ["unit range 9..3 is empty"]),
    ("FROM nowhere", ["unknown result 'nowhere'", "LET nowhere ="]),
    ("LET trained = INSPECT m AGAINST h OVER d; FROM trainde",
     ["column 48", "unknown result 'trainde'", "did you mean 'trained'?"]),
    ("LET a = INSPECT m AGAINST h OVER d;\nLET a = FROM a", ["line 2", "already given",
                                                           "line 1"]),
    ("LET a = INSPECT m AGAINST h OVER d; DIFF a, a ON unit BOOTSTRAP 5",
     ["BOOTSTRAP 5", "at least 20"]),
    ("INSPECT m AGAINST h OVER d ORDER score", ["unexpected 'score'", "'BY'"]),
    ("INSPECT m AGAINST h OVER d LIMIT 3 PER", ["unexpected the end", "a name"]),
]


@pytest.mark.parametrize("text,says", MALFORMED, ids=[q for q, _ in MALFORMED])
def test_malformed_queries_say_where_and_what(text, says):
    with pytest.raises(QueryError) as err:
        parse(text)
    for part in says:
        assert part in str(err.value), str(err.value)
    assert err.value.line is not None


@pytest.fixture
def bound(records):
    return dict(models={"planted": PlantedModel()}, data={"recs": records},
                hypotheses=[digit, upper], progress=False, device="cpu")


# Queries that parse but name things that do not exist: the message lists close matches.
WRONG = [
    ("INSPECT planted AGAINST test.digt OVER recs", ["unknown hypothesis 'test.digt'",
                                                      "'test.digit'"]),
    ("INSPECT planted AGAINST test.digit USING corelation OVER recs",
     ["unknown inspector 'corelation'", "did you mean 'correlation'", "column 42"]),
    ("INSPECT plantd AGAINST test.digit OVER recs", ["unknown model 'plantd'", "'planted'"]),
    ("INSPECT planted AGAINST test.digit OVER rec", ["unknown dataset 'rec'", "'recs'"]),
    ("INSPECT planted:featurs AGAINST test.digit OVER recs", ["no layer 'featurs'",
                                                              "'features'"]),
    ("INSPECT planted AGAINST test.digit OVER recs KEEP |scor| > 1",
     ["unknown column 'scor'", "'score'", "column 52"]),
    ("INSPECT planted AGAINST test.digit OVER recs WHERE lenght(text) > 3",
     ["unknown function 'lenght'", "'length'"]),
    ("INSPECT planted AGAINST test.digit OVER recs WHERE length(txt) > 3",
     ["unknown field of the records 'txt'", "'text'"]),
    ("INSPECT planted AGAINST test.digit USING probe(kk=3) OVER recs",
     ["inspector 'probe' does not take kk", "its parameters"]),
    ("EVALUATE accuracy OF planted OVER recs", ["unknown evaluation 'accuracy'",
                                                "evaluations=..."]),
    ("LET a = INSPECT planted AGAINST test.digit USING mutual_info OVER recs;\n"
     "LET b = INSPECT planted AGAINST test.digit USING mutual_info OVER recs;\n"
     "DIFF a, b ON unit", ["line 3", "without bootstrap replicates"]),
    ("LET a = INSPECT planted AGAINST test.digit OVER recs;\n"
     "LET b = INSPECT planted AGAINST test.digit OVER recs;\n"
     "DIFF a, b ON hypothesis", ["several rows for one key", "DIFF BEST"]),
    ("LET a = INSPECT planted AGAINST test.digit OVER recs;\n"
     "JOIN a, a ON neuron", ["unknown column 'neuron'"]),
    ("INSPECT planted AGAINST test.digit OVER recs WITHIN test.kind", ["unknown hypothesis"]),
    ("INSPECT planted AGAINST test.digit OVER recs WHERE text > 3", ["cannot compare"]),
    ("INSPECT planted AGAINST test.digit OVER recs WINDOW BOX 0, 0 .. 4, 4",
     ["WINDOW BOX applies to pixel hypotheses, not char-level ones"]),
    ("INSPECT planted AGAINST test.digit USING linear_probe OVER recs",
     ["column 42", "inspector 'linear_probe' accepts none of the statement's hypotheses "
      "(test.digit (binary))"]),
]


@pytest.mark.parametrize("text,says", WRONG, ids=[q.split(" OVER")[0][-40:] for q, _ in WRONG])
def test_wrong_names_are_named_with_close_matches(text, says, bound):
    with pytest.raises(QueryError) as err:
        hyplib.query(text, **bound)
    for part in says:
        assert part in str(err.value), str(err.value)
