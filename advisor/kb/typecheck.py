"""Type checking of knowledge-base conditions (advisor.kb.expr) against the questions and facts.

A name must be a question or a declared fact; a value must be one of its choices; a comparison
must fit the name's kind ('one', 'many', 'bool', 'number'). Every problem is one
:class:`~advisor.infra.errors.ExpressionError` with the column, and a "did you mean" where one fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from advisor.infra.errors import ExpressionError
from advisor.kb.expr import (
    BoolOp,
    Compare,
    ListLit,
    Literal,
    Name,
    Node,
    Not,
    Scalar,
    _lit,
    unparse,
)


@dataclass(frozen=True)
class VarType:
    """The type of a name: 'one' (a choice), 'many' (a set of choices), 'bool', 'number'."""

    kind: str
    choices: tuple[str, ...] = ()


def check(node: Node, env: Mapping[str, VarType]) -> None:
    """Type-check a condition against the known names; raises ExpressionError."""
    _check_bool(node, env)


def _describe(choices: tuple[str, ...]) -> str:
    return ", ".join(choices)


def _name_type(node: Name, env: Mapping[str, VarType]) -> VarType:
    vtype = env.get(node.id)
    if vtype is None:
        from advisor.infra.suggest import allowed, closest

        guess = closest(node.id, sorted(env))
        hint = f"did you mean {guess!r}?" if guess else allowed(sorted(env))
        raise ExpressionError(f"unknown name {node.id!r} (column {node.pos + 1}); {hint}")
    return vtype


def _check_bool(node: Node, env: Mapping[str, VarType]) -> None:
    if isinstance(node, BoolOp):
        for operand in node.operands:
            _check_bool(operand, env)
    elif isinstance(node, Not):
        _check_bool(node.operand, env)
    elif isinstance(node, Compare):
        _check_compare(node, env)
    elif isinstance(node, Name):
        vtype = _name_type(node, env)
        if vtype.kind != "bool":
            raise ExpressionError(
                f"{node.id!r} is a {vtype.kind} value, not true/false; compare it, "
                f"e.g. {node.id} == '{vtype.choices[0] if vtype.choices else '...'}'"
            )
    elif isinstance(node, Literal) and isinstance(node.value, bool):
        return
    else:
        raise ExpressionError(
            f"a condition must be true/false, not {unparse(node)!r} (column {node.pos + 1})"
        )


def _check_value(name: Name, vtype: VarType, value: Scalar, pos: int) -> None:
    if vtype.kind in ("one", "many"):
        if not isinstance(value, str) or value not in vtype.choices:
            from advisor.infra.suggest import allowed, closest

            guess = closest(value, vtype.choices) if isinstance(value, str) else None
            hint = f"did you mean {guess!r}?" if guess else allowed(vtype.choices)
            raise ExpressionError(
                f"{_lit(value)} is not a value of {name.id!r} (column {pos + 1}); {hint}"
            )
    elif vtype.kind == "bool":
        if not isinstance(value, bool):
            raise ExpressionError(f"{name.id!r} is true/false; got {_lit(value)}")
    elif vtype.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"{name.id!r} is a number; got {_lit(value)}")


def _check_compare(node: Compare, env: Mapping[str, VarType]) -> None:
    left, right, op = node.left, node.right, node.op
    if op in ("in", "not in"):
        if isinstance(right, ListLit) and isinstance(left, Name):
            vtype = _name_type(left, env)
            if vtype.kind == "many":
                raise ExpressionError(
                    f"{left.id!r} holds several values; write 'value' in {left.id} (column "
                    f"{node.pos + 1})"
                )
            for item in right.items:
                _check_value(left, vtype, item.value, item.pos)
            return
        if isinstance(right, Name) and isinstance(left, Literal):
            vtype = _name_type(right, env)
            if vtype.kind != "many":
                raise ExpressionError(
                    f"'in' needs a list or a many-valued question on the right; {right.id!r} is "
                    f"a {vtype.kind} value (column {node.pos + 1})"
                )
            _check_value(right, vtype, left.value, left.pos)
            return
        raise ExpressionError(
            f"'{op}' takes name in [values] or 'value' in many_valued_name (column {node.pos + 1})"
        )
    if isinstance(left, Literal) and isinstance(right, Name):
        left, right = right, left
    if not isinstance(left, Name):
        raise ExpressionError(f"a comparison needs a name on one side (column {node.pos + 1})")
    vtype = _name_type(left, env)
    if isinstance(right, Name):
        other = _name_type(right, env)
        if other.kind != vtype.kind or (vtype.kind in ("one", "many") and other != vtype):
            raise ExpressionError(
                f"cannot compare {left.id!r} ({vtype.kind}) with {right.id!r} ({other.kind})"
            )
        if op not in ("==", "!=") and vtype.kind != "number":
            raise ExpressionError(f"'{op}' compares numbers only (column {node.pos + 1})")
        return
    if op in ("<", "<=", ">", ">=") and vtype.kind != "number":
        raise ExpressionError(
            f"'{op}' compares numbers only; {left.id!r} is a {vtype.kind} value"
        )
    if isinstance(right, ListLit):
        if vtype.kind != "many" or op not in ("==", "!="):
            raise ExpressionError(
                f"a list compares only with == or != to a many-valued name (column {node.pos+1})"
            )
        for item in right.items:
            _check_value(left, vtype, item.value, item.pos)
        return
    if isinstance(right, Literal):
        if vtype.kind == "many":
            raise ExpressionError(
                f"{left.id!r} holds several values; write {_lit(right.value)} in {left.id}"
            )
        _check_value(left, vtype, right.value, right.pos)
        return
    raise ExpressionError(f"cannot compare with {unparse(right)!r}")  # pragma: no cover
