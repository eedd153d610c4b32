"""The condition language: parser, type checker, three-valued evaluation (incl. property tests)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.infra.errors import ExpressionError
from advisor.kb import expr, typecheck
from advisor.kb.expr import UNKNOWN

ENV = {
    "purpose": typecheck.VarType("one", ("research", "production", "learning", "prototype")),
    "deploy": typecheck.VarType("many", ("server", "browser", "mobile_ios", "none")),
    "custom": typecheck.VarType("bool"),
    "speed": typecheck.VarType("number"),
}


def ev(text: str, **facts):
    node = expr.parse(text)
    typecheck.check(node, ENV)
    return expr.evaluate(node, facts)


def test_comparisons_and_membership():
    assert ev("purpose == 'research'", purpose="research") is True
    assert ev("purpose != 'research'", purpose="research") is False
    assert ev("purpose in ['research', 'learning']", purpose="learning") is True
    assert ev("purpose not in ['research', 'learning']", purpose="learning") is False
    assert ev("'browser' in deploy", deploy=["server", "browser"]) is True
    assert ev("'browser' not in deploy", deploy=["server"]) is True
    assert ev("deploy == ['none']", deploy=["none"]) is True
    assert ev("speed < 0.5", speed=0.25) is True
    assert ev("speed >= 0.5", speed=0.25) is False
    assert ev("custom", custom=True) is True
    assert ev("not custom", custom=True) is False


def test_precedence_and_parentheses():
    # and binds tighter than or
    assert ev("purpose == 'research' or purpose == 'learning' and custom",
              purpose="research", custom=False) is True
    assert ev("(purpose == 'research' or purpose == 'learning') and custom",
              purpose="research", custom=False) is False


def test_unanswered_is_unknown_not_false():
    assert ev("purpose == 'research'") is UNKNOWN
    assert ev("not (purpose == 'research')") is UNKNOWN
    assert ev("purpose != 'research'") is UNKNOWN
    # Kleene logic: a known false conjunct decides, a known true disjunct decides
    assert ev("custom and purpose == 'research'", custom=False) is False
    assert ev("custom or purpose == 'research'", custom=True) is True
    assert ev("custom or purpose == 'research'", custom=False) is UNKNOWN


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("purpose == 'reserch'", "did you mean 'research'?"),
        ("purpose == 'video'", "allowed: research, production, learning, prototype"),
        ("porpose == 'research'", "unknown name 'porpose' (column 1); did you mean 'purpose'?"),
        ("purpose", "not true/false"),
        ("speed < 'fast'", "is a number"),
        ("purpose < 'research'", "compares numbers only"),
        ("deploy == 'server'", "holds several values"),
        ("'server' in purpose", "many-valued"),
        ("purpose == 'research' and", "expected a name"),
        ("(purpose == 'research'", "expected ')'"),
        ("1 < speed < 2", "chained comparisons"),
        ("__import__('os')", "expected 'and', 'or' or the end"),
        ("purpose == 'a' ; rm", "unexpected character"),
        ("purpose.__class__ == 'x'", "unknown name"),
        ("", "empty condition"),
    ],
)
def test_errors_say_what_is_allowed(text, fragment):
    with pytest.raises(ExpressionError) as info:
        typecheck.check(expr.parse(text), ENV)
    assert fragment in info.value.message


def test_no_eval_no_attribute_access():
    # dotted names are plain names looked up whole, never attributes
    env = {"probe.tensorflow.sees_gpu": typecheck.VarType("bool")}
    node = expr.parse("probe.tensorflow.sees_gpu")
    typecheck.check(node, env)
    assert expr.evaluate(node, {"probe.tensorflow.sees_gpu": False}) is False
    assert expr.evaluate(node, {}) is UNKNOWN


# ------------------------------------------------------------------ property tests

values = {"purpose": ENV["purpose"].choices, "deploy": ENV["deploy"].choices}


@st.composite
def comparisons(draw):
    kind = draw(st.sampled_from(["one", "many", "bool", "number", "in"]))
    if kind == "one":
        return expr.Compare(draw(st.sampled_from(["==", "!="])), expr.Name("purpose"),
                            expr.Literal(draw(st.sampled_from(values["purpose"]))))
    if kind == "in":
        items = draw(st.lists(st.sampled_from(values["purpose"]), min_size=1, max_size=3))
        return expr.Compare(draw(st.sampled_from(["in", "not in"])), expr.Name("purpose"),
                            expr.ListLit(tuple(expr.Literal(i) for i in items)))
    if kind == "many":
        return expr.Compare(draw(st.sampled_from(["in", "not in"])),
                            expr.Literal(draw(st.sampled_from(values["deploy"]))), expr.Name("deploy"))
    if kind == "bool":
        return expr.Name("custom")
    return expr.Compare(draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="])), expr.Name("speed"),
                        expr.Literal(draw(st.sampled_from([0, 1, 0.5, 2.25]))))


trees = st.recursive(
    comparisons(),
    lambda children: st.one_of(
        children.map(expr.Not),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)).map(
            lambda t: expr.BoolOp(t[0], tuple(t[1]))
        ),
    ),
    max_leaves=12,
)

facts_strategy = st.fixed_dictionaries(
    {},
    optional={
        "purpose": st.sampled_from(values["purpose"]),
        "deploy": st.lists(st.sampled_from(values["deploy"]), unique=True, max_size=3),
        "custom": st.booleans(),
        "speed": st.sampled_from([0, 0.25, 0.5, 1, 3]),
    },
)


def reference(node, facts):
    """Independent Kleene evaluation via Python (None = unknown)."""
    if isinstance(node, expr.Name):
        return facts.get(node.id)
    if isinstance(node, expr.Not):
        v = reference(node.operand, facts)
        return None if v is None else not v
    if isinstance(node, expr.BoolOp):
        vs = [reference(o, facts) for o in node.operands]
        if node.op == "and":
            return False if False in vs else (None if None in vs else True)
        return True if True in vs else (None if None in vs else False)
    left = node.left.value if isinstance(node.left, expr.Literal) else facts.get(node.left.id)
    if isinstance(node.right, expr.ListLit):
        right = [i.value for i in node.right.items]
    elif isinstance(node.right, expr.Literal):
        right = node.right.value
    else:
        right = facts.get(node.right.id)
    if left is None or right is None:
        return None
    import operator

    ops = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge, "in": lambda a, b: a in b,
           "not in": lambda a, b: a not in b}
    return ops[node.op](left, right)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_unparse_parse_round_trip(node):
    text = expr.unparse(node)
    parsed = expr.parse(text)
    assert expr.strip_positions(parsed) == expr.strip_positions(node)
    typecheck.check(parsed, ENV)


@settings(max_examples=300, deadline=None)
@given(trees, facts_strategy)
def test_evaluation_matches_reference_kleene_logic(node, facts):
    got = expr.evaluate(expr.parse(expr.unparse(node)), facts)
    want = reference(node, facts)
    assert (None if got is UNKNOWN else got) == want


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_random_text_parses_or_fails_cleanly(text):
    try:
        node = expr.parse(text)
        typecheck.check(node, ENV)
    except ExpressionError:
        return
    expr.evaluate(node, {})  # a checked condition always evaluates


@settings(max_examples=300, deadline=None)
@given(trees, st.data())
def test_mutated_conditions_fail_cleanly(node, data):
    text = expr.unparse(node)
    pos = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(alphabet="()[],'\"=<>!andortin x_.0123456789", max_size=4))
    mutated = text[:pos] + junk + text[pos + data.draw(st.integers(0, 3)):]
    try:
        parsed = expr.parse(mutated)
        typecheck.check(parsed, ENV)
        expr.evaluate(parsed, {"purpose": "research"})
    except ExpressionError:
        pass


def test_compiled_conditions_equal_the_tree_walk(kb):
    """expr.compile_condition (used for re-scoring) gives what expr.evaluate gives, unknowns too."""
    import random

    from advisor.decision import audit

    rng = random.Random(2)
    nodes = list(kb.conditions.values()) + list(kb.question_conditions.values())
    for _ in range(200):
        answers = audit.random_answers(kb, rng)
        partial = {k: v for k, v in answers.items() if rng.random() < 0.6}  # leave some unknown
        for facts in (answers, partial):
            for node in nodes:
                assert expr.compile_condition(node)(facts) is expr.evaluate(node, facts)
