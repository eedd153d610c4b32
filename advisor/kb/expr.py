"""The condition language of the knowledge base.

A small, safe expression language parsed to an AST and evaluated by walking it — never ``eval``.

    expr    := or_expr
    or_expr := and_expr ("or" and_expr)*
    and_expr:= not_expr ("and" not_expr)*
    not_expr:= "not" not_expr | compare
    compare := operand (OP operand)?          OP: == != < <= > >= in, not in
    operand := NAME | STRING | NUMBER | true | false | "[" literals "]" | "(" expr ")"

Names (``purpose``, ``probe.tensorflow.sees_gpu``) are looked up whole in the fact namespace: a dot
is part of the name, not attribute access. A bare name must be boolean.

Logic is three-valued (Kleene): an unanswered question is UNKNOWN, and ``not UNKNOWN`` is
UNKNOWN, ``false and UNKNOWN`` is false, ``true or UNKNOWN`` is true. A rule fires only when its
condition is TRUE.

Type checking against the questions and facts (``VarType``, ``check``) is advisor.kb.typecheck.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Union

from advisor.infra.errors import ExpressionError


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # pragma: no cover - guard against accidental truthiness
        raise TypeError("UNKNOWN has no truth value; use the three-valued helpers")


UNKNOWN: Any = _Unknown()

Scalar = Union[str, int, float, bool]


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Name:
    id: str
    pos: int = 0


@dataclass(frozen=True)
class Literal:
    value: Scalar
    pos: int = 0


@dataclass(frozen=True)
class ListLit:
    items: tuple[Literal, ...]
    pos: int = 0


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int = 0


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: int = 0


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    pos: int = 0


Node = Union[Name, Literal, ListLit, Compare, Not, BoolOp]

# --------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)

KEYWORDS = {"and", "or", "not", "in", "true", "false"}
MAX_LENGTH = 4000
MAX_DEPTH = 50


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, op, name, kw, end
    text: str
    pos: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"condition longer than {MAX_LENGTH} characters")
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None:
            raise ExpressionError(f"unexpected character {source[pos]!r} at column {pos + 1}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text in KEYWORDS:
            kind = "kw"
        if kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, message: str, tok: Token | None = None) -> ExpressionError:
        tok = tok or self.tok
        found = "end of condition" if tok.kind == "end" else repr(tok.text)
        return ExpressionError(f"{message} at column {tok.pos + 1} (found {found})")

    def take(self, kind: str, text: str | None = None) -> Token | None:
        tok = self.tok
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise ExpressionError("empty condition")
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.fail("expected 'and', 'or' or the end")
        return node

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"condition nested deeper than {MAX_DEPTH} levels")

    def or_expr(self) -> Node:
        start = self.tok.pos
        items = [self.and_expr()]
        while self.take("kw", "or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items), start)

    def and_expr(self) -> Node:
        start = self.tok.pos
        items = [self.not_expr()]
        while self.take("kw", "and"):
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items), start)

    def not_expr(self) -> Node:
        tok = self.take("kw", "not")
        if tok:
            self._enter()
            node = Not(self.not_expr(), tok.pos)
            self.depth -= 1
            return node
        return self.compare()

    def compare(self) -> Node:
        left = self.operand()
        tok = self.tok
        op: str | None = None
        if tok.kind == "op" and tok.text in ("==", "!=", "<=", ">=", "<", ">"):
            op = tok.text
            self.i += 1
        elif self.take("kw", "in"):
            op = "in"
        elif tok.kind == "kw" and tok.text == "not" and self.tokens[self.i + 1].text == "in":
            self.i += 2
            op = "not in"
        if op is None:
            return left
        right = self.operand()
        nxt = self.tok
        if nxt.kind == "op" and nxt.text in ("==", "!=", "<=", ">=", "<", ">") or (
            nxt.kind == "kw" and nxt.text == "in"
        ):
            raise self.fail("chained comparisons are not allowed; join them with 'and'")
        return Compare(op, left, right, tok.pos)

    def operand(self) -> Node:
        tok = self.tok
        if tok.kind == "name":
            self.i += 1
            return Name(tok.text, tok.pos)
        if tok.kind in ("number", "string") or (tok.kind == "kw" and tok.text in ("true", "false")):
            return self.literal()
        if self.take("op", "["):
            items: list[Literal] = []
            if not self.take("op", "]"):
                while True:
                    items.append(self.literal())
                    if self.take("op", "]"):
                        break
                    if not self.take("op", ","):
                        raise self.fail("expected ',' or ']' in a list")
            return ListLit(tuple(items), tok.pos)
        if self.take("op", "("):
            self._enter()
            node = self.or_expr()
            self.depth -= 1
            if not self.take("op", ")"):
                raise self.fail("expected ')'")
            return node
        raise self.fail("expected a name, a value, a list or '('")

    def literal(self) -> Literal:
        tok = self.tok
        self.i += 1
        if tok.kind == "number":
            num = float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
            return Literal(num, tok.pos)
        if tok.kind == "string":
            return Literal(_unquote(tok.text), tok.pos)
        if tok.kind == "kw" and tok.text in ("true", "false"):
            return Literal(tok.text == "true", tok.pos)
        self.i -= 1
        raise self.fail("expected a value (a 'string', a number, true or false)")


def parse(source: str) -> Node:
    """Parse a condition into an AST; raises ExpressionError with the column on failure."""
    if not isinstance(source, str):
        raise ExpressionError("a condition must be a string")
    return _Parser(source).parse()


# --------------------------------------------------------------------------- printing


def _lit(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def unparse(node: Node) -> str:
    """Canonical text of an AST (fully parenthesised where needed); parse(unparse(n)) == n."""
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Literal):
        return _lit(node.value)
    if isinstance(node, ListLit):
        return "[" + ", ".join(_lit(i.value) for i in node.items) + "]"
    if isinstance(node, Compare):
        return f"{_wrap(node.left)} {node.op} {_wrap(node.right)}"
    if isinstance(node, Not):
        return f"not {_wrap(node.operand)}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_wrap(o) for o in node.operands)
    raise TypeError(node)  # pragma: no cover


def _wrap(node: Node) -> str:
    text = unparse(node)
    return f"({text})" if isinstance(node, (BoolOp, Compare, Not)) else text


def strip_positions(node: Node) -> Node:
    """The same AST with every position zeroed: structural equality for comparisons."""
    if isinstance(node, Name):
        return Name(node.id)
    if isinstance(node, Literal):
        return Literal(node.value)
    if isinstance(node, ListLit):
        return ListLit(tuple(Literal(i.value) for i in node.items))
    if isinstance(node, Compare):
        return Compare(node.op, strip_positions(node.left), strip_positions(node.right))
    if isinstance(node, Not):
        return Not(strip_positions(node.operand))
    return BoolOp(node.op, tuple(strip_positions(o) for o in node.operands))


def names(node: Node) -> Iterator[str]:
    """Every name the condition reads."""
    if isinstance(node, Name):
        yield node.id
    elif isinstance(node, Compare):
        yield from names(node.left)
        yield from names(node.right)
    elif isinstance(node, Not):
        yield from names(node.operand)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            yield from names(operand)


def literals_for(node: Node) -> Iterator[tuple[str, Scalar]]:
    """(name, literal) pairs the condition compares: the values that matter for each name."""
    if isinstance(node, Compare):
        pairs = [(node.left, node.right), (node.right, node.left)]
        for a, b in pairs:
            if isinstance(a, Name):
                if isinstance(b, Literal):
                    yield a.id, b.value
                elif isinstance(b, ListLit):
                    for item in b.items:
                        yield a.id, item.value
        yield from literals_for(node.left)
        yield from literals_for(node.right)
    elif isinstance(node, Not):
        yield from literals_for(node.operand)
    elif isinstance(node, BoolOp):
        for operand in node.operands:
            yield from literals_for(operand)


# --------------------------------------------------------------------------- evaluation


def _and(values: list[Any]) -> Any:
    if any(v is False for v in values):
        return False
    if any(v is UNKNOWN for v in values):
        return UNKNOWN
    return True


def _or(values: list[Any]) -> Any:
    if any(v is True for v in values):
        return True
    if any(v is UNKNOWN for v in values):
        return UNKNOWN
    return False


def _not(value: Any) -> Any:
    return UNKNOWN if value is UNKNOWN else (not value)


def evaluate(node: Node, facts: Mapping[str, Any]) -> Any:
    """True, False or UNKNOWN. Missing names and None values are UNKNOWN."""
    if isinstance(node, BoolOp):
        values = [evaluate(o, facts) for o in node.operands]
        return _and(values) if node.op == "and" else _or(values)
    if isinstance(node, Not):
        return _not(evaluate(node.operand, facts))
    if isinstance(node, Name):
        value = _value(node, facts)
        if value is UNKNOWN:
            return UNKNOWN
        return bool(value)
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Compare):
        return _compare(node, facts)
    raise TypeError(node)  # pragma: no cover


def _value(node: Node, facts: Mapping[str, Any]) -> Any:
    if isinstance(node, Name):
        value = facts.get(node.id, UNKNOWN)
        return UNKNOWN if value is None else value
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListLit):
        return [item.value for item in node.items]
    return evaluate(node, facts)


def _compare(node: Compare, facts: Mapping[str, Any]) -> Any:
    return _compare_values(node.op, _value(node.left, facts), _value(node.right, facts))


def reads(node: Node, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The values of every name the condition reads (UNKNOWN where unanswered)."""
    out: dict[str, Any] = {}
    for name in names(node):
        value = facts.get(name, UNKNOWN)
        out[name] = UNKNOWN if value is None else value
    return out


# --------------------------------------------------------------------------- compiled evaluation


def compile_condition(node: Node) -> Any:
    """A closure ``facts -> True | False | UNKNOWN`` equal to :func:`evaluate` on ``node``.

    For re-scoring many answer sets (flips, win probability, ``rules audit``): the tree is walked
    once here instead of at every evaluation. A test keeps both equal.
    """
    if isinstance(node, BoolOp):
        parts = [compile_condition(o) for o in node.operands]
        if node.op == "and":
            def and_(facts: Mapping[str, Any]) -> Any:
                unknown = False
                for part in parts:
                    value = part(facts)
                    if value is False:
                        return False
                    if value is UNKNOWN:
                        unknown = True
                return UNKNOWN if unknown else True
            return and_

        def or_(facts: Mapping[str, Any]) -> Any:
            unknown = False
            for part in parts:
                value = part(facts)
                if value is True:
                    return True
                if value is UNKNOWN:
                    unknown = True
            return UNKNOWN if unknown else False
        return or_
    if isinstance(node, Not):
        inner = compile_condition(node.operand)
        return lambda facts: _not(inner(facts))
    if isinstance(node, Name):
        key = node.id

        def name(facts: Mapping[str, Any]) -> Any:
            value = facts.get(key)
            return UNKNOWN if value is None or value is UNKNOWN else bool(value)
        return name
    if isinstance(node, Literal):
        const = node.value
        return lambda facts: const
    if isinstance(node, Compare):
        return _compile_compare(node)
    raise TypeError(node)  # pragma: no cover


def _compile_operand(node: Node) -> Any:
    if isinstance(node, Name):
        key = node.id

        def get(facts: Mapping[str, Any]) -> Any:
            value = facts.get(key, UNKNOWN)
            return UNKNOWN if value is None else value
        return get
    if isinstance(node, Literal):
        const = node.value
        return lambda facts: const
    if isinstance(node, ListLit):
        items = [item.value for item in node.items]
        return lambda facts: items
    return compile_condition(node)


def _compile_compare(node: Compare) -> Any:
    fast = _compile_simple_compare(node)
    if fast is not None:
        return fast
    left_of = _compile_operand(node.left)
    right_of = _compile_operand(node.right)

    def compare(facts: Mapping[str, Any]) -> Any:
        return _compare_values(node.op, left_of(facts), right_of(facts))
    return compare


def _compile_simple_compare(node: Compare) -> Any:
    """Closures for the common shapes (name == 'x', name in [...], 'x' in name), same results."""
    left, right, op = node.left, node.right, node.op
    if isinstance(left, Name) and isinstance(right, Literal) and op in ("==", "!="):
        key, const, equal = left.id, right.value, op == "=="

        def eq(facts: Mapping[str, Any]) -> Any:
            value = facts.get(key)
            if value is None or value is UNKNOWN:
                return UNKNOWN
            if isinstance(value, list):
                return _compare_values(op, value, const)
            return (value == const) is equal
        return eq
    if isinstance(left, Name) and isinstance(right, ListLit) and op in ("in", "not in"):
        key, items, inside = left.id, [item.value for item in right.items], op == "in"

        def member(facts: Mapping[str, Any]) -> Any:
            value = facts.get(key)
            if value is None or value is UNKNOWN:
                return UNKNOWN
            try:
                return (value in items) is inside
            except TypeError:  # pragma: no cover - type-checked at load
                return UNKNOWN
        return member
    if isinstance(left, Literal) and isinstance(right, Name) and op in ("in", "not in"):
        key, const, inside = right.id, left.value, op == "in"

        def contains(facts: Mapping[str, Any]) -> Any:
            value = facts.get(key)
            if value is None or value is UNKNOWN:
                return UNKNOWN
            try:
                return (const in value) is inside
            except TypeError:
                return UNKNOWN
        return contains
    return None


def _compare_values(op: str, left: Any, right: Any) -> Any:
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    try:
        if op == "in":
            return left in right
        if op == "not in":
            return left not in right
        if op in ("==", "!="):
            if isinstance(left, list) and isinstance(right, list):
                same = sorted(map(str, left)) == sorted(map(str, right))
            else:
                same = left == right
            return same if op == "==" else not same
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
    except TypeError:
        return UNKNOWN
    raise TypeError(op)  # pragma: no cover
