"""Parse HQL text into :mod:`~hyplib.query.statements` objects, with errors that say where."""
from __future__ import annotations

import difflib
import functools
from importlib import resources

import lark
from lark import Token, Transformer, v_args

from ..errors import HyplibError
from .statements import (
    Ablation,
    DataSpec,
    Diff,
    Evaluate,
    From,
    Inspect,
    InspectorSpec,
    Join,
    ModelRef,
    Post,
    SortKey,
    Statement,
    Target,
)

# How the error message names the grammar's regular-expression terminals.
TERMINALS = {"NAME": "a name", "LAYER": "a layer name", "HYP": "a hypothesis name or glob",
             "STRING": "a quoted string", "INT": "an integer", "NUMBER": "a number",
             "SIGNED_NUMBER": "a number", "PERCENT": "a percentage", "CMP": "a comparison",
             "_SEMI": "';'", "$END": "the end of the script"}


class QueryError(HyplibError):
    """A query that cannot be parsed or run; ``line`` and ``column`` say where (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.line, self.column = line, column
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)


@functools.cache
def _grammar() -> str:
    return resources.files(__package__).joinpath("hql.lark").read_text()


# Keywords that start a clause are reserved: a name spelled like one is a mistake
# (``INSPECT AGAINST ...``). Others (TOP, BEST, SEED, ...) may name results.
RESERVED = frozenset("INSPECT AGAINST USING OVER WHERE SAMPLE WINDOW WITHIN WITH UNTIL KEEP ORDER "
                     "LIMIT PER FROM JOIN DIFF EVALUATE LET EXPLAIN ON BY OF AND OR NOT".split())


def _not_keyword(token: Token) -> Token:
    if token.upper() in RESERVED:
        raise QueryError(f"{token} is a keyword, not a name: write the name before it, or "
                         f"quote a model or data set called so ('{token}')", token.line,
                         token.column)
    return token


@functools.cache
def _parser() -> lark.Lark:
    return lark.Lark(_grammar(), parser="lalr", propagate_positions=True,
                     maybe_placeholders=True, lexer_callbacks={"NAME": _not_keyword})


def _describe(name: str, terminals: dict) -> str:
    if name in TERMINALS:
        return TERMINALS[name]
    pattern = terminals.get(name)
    if pattern is not None and pattern.type == "str":
        return repr(pattern.value.upper() if pattern.value.isalpha() else pattern.value)
    return name


def _syntax_error(exc: lark.exceptions.UnexpectedInput, text: str) -> QueryError:
    terminals = {t.name: t.pattern for t in _parser().terminals}
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        got, expected = repr(exc.char), exc.allowed
    elif isinstance(exc, lark.exceptions.UnexpectedEOF):
        got, expected = "the end of the script", exc.expected
    else:
        got = ("the end of the script" if exc.token.type == "$END"
               else f"{exc.token.value!r}")
        expected = exc.expected
    names = sorted({_describe(e, terminals) for e in expected})
    hint = ""
    word = got.strip("'\"")
    keywords = [n.strip("'") for n in names if n.startswith("'") and n[1:-1].isalpha()]
    close = difflib.get_close_matches(word.upper(), keywords, n=1, cutoff=0.7)
    if close:
        hint = f"; did you mean {close[0]}?"
    if got == "the end of the script":  # just after the last character written
        lines = text.rstrip().split("\n")
        line, column = len(lines), len(lines[-1]) + 1
        context = f"{lines[-1]}\n{' ' * (column - 1)}^"
    else:
        line, column = exc.line, exc.column
        context = exc.get_context(text).rstrip()
    message = f"syntax error: unexpected {got}; expected {' or '.join(names)}{hint}"
    return QueryError(message + (f"\n{context}" if context else ""), line, column)


def parse(text: str) -> list[Statement]:
    """The statements of a script; unnamed ones are called ``_1``, ``_2``, ... by position."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    try:
        statements = _Build(text).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, HyplibError):
            where = exc.obj if isinstance(exc.obj, Token) else getattr(exc.obj, "meta", None)
            raise QueryError(str(exc.orig_exc), getattr(where, "line", None),
                             getattr(where, "column", None)) from None
        raise
    seen: dict[str, int] = {}
    for s in statements:
        if s.name in seen:
            raise QueryError(f"the name {s.name!r} is already given to the statement on line "
                             f"{seen[s.name]}: choose another", s.line, 1)
        for dep in s.depends:
            if dep not in seen:
                known = list(seen)
                near = difflib.get_close_matches(dep, known, n=3, cutoff=0.5)
                hint = (f"did you mean {', '.join(map(repr, near))}?" if near else
                        f"results named before it: {', '.join(known) or 'none'}")
                raise QueryError(f"unknown result {dep!r}: name a statement before this one "
                                 f"(LET {dep} = ...); {hint}", *locate(text, s, dep))
        seen[s.name] = s.line
    return statements


def locate(text: str, s: Statement, name: str) -> tuple[int, int]:
    """The line and column of ``name`` in statement ``s`` of the script ``text`` (the
    statement's start if it is not there)."""
    at = text.find(name, s.span[0], s.span[1]) if name else -1
    at = s.span[0] if at < 0 else at
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


def _int_ranges(ranges) -> tuple[int, ...]:
    out = []
    for lo, hi in ranges:
        if hi is not None and hi < lo:
            raise HyplibError(f"unit range {lo}..{hi} is empty: write low..high")
        out += range(lo, (hi if hi is not None else lo) + 1)
    return tuple(sorted(set(out)))


class _Build(Transformer):
    """The parse tree bottom-up into statement objects."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def _source(self, meta) -> str:
        return " ".join(self.text[meta.start_pos:meta.end_pos].split())

    # tokens
    def NAME(self, t):
        return str(t)

    LAYER = HYP = NAME

    def STRING(self, t):
        return str(t)[1:-1]

    def INT(self, t):
        return int(t)

    def NUMBER(self, t):
        return float(t)

    def PERCENT(self, t):
        value = float(str(t)[:-1]) / 100
        if not 0 < value <= 1:
            raise HyplibError(f"SAMPLE {t} is not a fraction in (0%, 100%]")
        return value

    def start(self, items):
        counter = iter(range(1, len(items) + 1))
        return [s(f"_{next(counter)}") if callable(s) else s for s in items if s is not None]

    @v_args(meta=True)
    def statement(self, meta, items):
        explain, name, query = items
        line = meta.line

        def make(default):
            return Statement(query, name or default, explain is not None, line,
                             self._source(meta), (meta.start_pos, meta.end_pos))
        return make

    # INSPECT
    def inspect(self, items):
        targets, hyps = [], []
        for item in items[:-6]:
            (targets if isinstance(item, Target) else hyps).append(item)
        using, over, projection, ablation, until, post = items[-6:]
        tolerance, top_k = until or (None, None)
        return Inspect(tuple(targets), tuple(hyps), tuple(using or [InspectorSpec("correlation")]),
                       over, projection, ablation, tolerance, top_k, post)

    def target(self, items):
        model, layer, units = items
        return Target(model, layer, units)

    def units_of(self, items):
        return Target(source=items[0])

    def named_model(self, items):
        return ModelRef(items[0])

    def untrained_model(self, items):
        return ModelRef(items[0], untrained=True)

    def unit_list(self, items):
        return _int_ranges(items)

    def unit_range(self, items):
        return tuple(items)

    def hyp(self, items):
        return items[0]

    def using(self, items):
        return list(items)

    def inspector(self, items):
        return InspectorSpec(items[0], tuple(a for a in items[1:] if a is not None))

    def arg(self, items):
        return (items[0], items[1])

    def number(self, items):
        value = float(items[0])
        return int(value) if value.is_integer() and "." not in str(items[0]) else value

    def string(self, items):
        return items[0]

    def word(self, items):
        return {"true": True, "false": False, "none": None}.get(items[0].lower(), items[0])

    def over(self, items):
        data, where, size, seed = items
        where, where_text = where or (None, "")
        return DataSpec(data[0], data[1], data[2], where, where_text, size, seed or 0)

    def named_data(self, items):
        return (items[0], tuple(a for a in items[1:] if a is not None), False)

    def path_data(self, items):
        return (items[0], (), True)

    @v_args(meta=True)
    def where(self, meta, items):
        return (items[0], self._source(meta)[len("WHERE"):].strip())

    def sample(self, items):
        (size,) = items
        if isinstance(size, int) and size < 1:
            raise HyplibError(f"SAMPLE {size}: sample at least 1 record")
        return size

    def seed(self, items):
        return items[0]

    def window(self, items):
        lo, hi = items
        if hi <= lo:
            raise HyplibError(f"WINDOW {lo}..{hi} is empty: write WINDOW first..last+1, "
                              f"e.g. WINDOW 0..40")
        return ("window", lo, hi)

    def box(self, items):
        top, left, bottom, right = items
        if bottom <= top or right <= left:
            raise HyplibError(f"WINDOW BOX {top}, {left} .. {bottom}, {right} is empty: write "
                              f"the top-left row, column .. the bottom-right row, column + 1")
        return ("box", top, left, bottom, right)

    def within(self, items):
        return ("within", items[0])

    def ablation(self, items):
        if len(items) == 1 and isinstance(items[0], str):
            return Ablation(source=items[0])
        return Ablation(units=tuple(items))

    def unit_ref(self, items):
        return tuple(items)

    def until(self, items):
        return (items[0], items[1])

    # the other statements
    def evaluate(self, items):
        name, model, over, by, ablation, post = items
        return Evaluate(name, model, over, tuple(by or ()), ablation, post)

    def by(self, items):
        return list(items)

    on = by

    def from_(self, items):
        return From(items[0], items[1])

    def join(self, items):
        left, right, on, where, post = items
        where, where_text = where or (None, "")
        return Join(left, right, tuple(on), where, where_text, post)

    def diff(self, items):
        best, left, right, on, boot, post = items
        replicates, seed = boot or (None, None)
        return Diff(left, right, tuple(on), best is not None, replicates, seed or 0, post)

    def boot(self, items):
        if items[0] < 20:
            raise HyplibError(f"BOOTSTRAP {items[0]}: use at least 20 replicates (200 or more "
                              f"for 95% intervals)")
        return (items[0], items[1])

    # post
    @v_args(meta=True)
    def post(self, meta, items):
        keep, order, limit = items
        keep, keep_text = keep or (None, "")
        limit, per = limit or (None, ())
        return Post(keep, keep_text, tuple(order or ()), limit, per)

    @v_args(meta=True)
    def keep(self, meta, items):
        return (items[0], self._source(meta)[len("KEEP"):].strip())

    def order(self, items):
        return list(items)

    @v_args(meta=True)
    def sort_key(self, meta, items):
        expr, direction = items
        return SortKey(expr, direction is not None and direction.upper() == "DESC",
                       self._source(meta))

    def limit(self, items):
        n, *per = items
        return (n, tuple(p for p in per if p is not None))

    # conditions
    def or_(self, items):
        return ("or", *items)

    def and_(self, items):
        return ("and", *items)

    def not_(self, items):
        return ("not", items[0])

    def compare(self, items):
        a, op, b = items
        return ("compare", {"<>": "!=", "=": "=="}.get(str(op), str(op)), a, b)

    def isin(self, items):
        return ("isin", items[0], tuple(v[1] for v in items[1:]))

    def like(self, items):
        return ("like", items[0], items[1])

    def column(self, items):
        return ("column", items[0])

    def qualified(self, items):
        return ("qualified", items[0], items[1])

    def abs_(self, items):
        return ("abs", items[0])

    def call(self, items):
        return ("call", items[0].lower(), items[1])


    def lit_number(self, items):
        return ("literal", self.number(items))

    def lit_string(self, items):
        return ("literal", items[0])
