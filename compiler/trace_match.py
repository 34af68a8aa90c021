"""Tracing `match`: decided at compile time when the subject is a constant and the patterns can be
read as values; otherwise a chain of condition nodes, one per case, each running the case's own
pattern on the subject, as Python's `match` would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libcst as cst

from pipec.compiler import rules, trace_values
from pipec.compiler import trace_branches as branches
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_statements as statements
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.syntax import ImpureCallFinder
from pipec.compiler.trace_state import Context, Symbol
from pipec.manifest import Literal, NodeKind

__all__ = ["match_"]

# Classes whose single positional pattern matches the subject itself (`case int(n):`).
_SELF_MATCHING = {
    "bool": bool,
    "bytearray": bytearray,
    "bytes": bytes,
    "dict": dict,
    "float": float,
    "frozenset": frozenset,
    "int": int,
    "list": list,
    "set": set,
    "str": str,
    "tuple": tuple,
}


class _Undecided(Exception):
    """A pattern compile-time folding cannot decide: the rest of the match runs at run time."""


def match_(t: Context, node: cst.Match) -> None:
    if not t.structural(node):
        glue.glue_statement(t, node, node)
        return
    subject = t.fold(node.subject)
    constant = subject is not NOT_LITERAL and not any(
        k == "local" and not isinstance(t.frame.env.get(n), Literal)
        for k, n in t.uses(node.subject, [])
    )
    cases = list(node.cases)
    if constant:
        undecided, matched = _fold_cases(t, cases, subject)
        if matched is not None:
            case, captures = matched
            for name, value in captures.items():
                t.frame.env[name] = Literal.of(value)
            statements.block(t, case.body)
            return
        cases = cases[undecided:]
        if not cases:
            return  # no case matches: the match does nothing
    if t.frame.map is not None:
        t.reporter.report(rules.MATCH_IN_RUNTIME_LOOP, t.location(node))
        return
    binding = trace_values.bind(t, node.subject, "subject")
    if binding is None:
        return
    name = t.temporary("subject")
    t.frame.env[name] = binding
    _runtime_cases(t, name, cases)
    t.frame.env.pop(name, None)


def _fold_cases(
    t: Context, cases: list[cst.MatchCase], subject: Any
) -> tuple[int, tuple[cst.MatchCase, dict[str, Any]] | None]:
    """The case a constant subject takes, with the names it binds; or the index of the first
    case folding cannot decide (everything before it did not match)."""
    for index, case in enumerate(cases):
        try:
            captures = _decide(t, case.pattern, subject)
            if captures is not None and case.guard is not None:
                captures = captures if _guard_holds(t, case.guard, captures) else None
        except _Undecided:
            return index, None
        if captures is not None:
            return index, (case, captures)
    return len(cases), None


def _runtime_cases(t: Context, subject: str, cases: list[cst.MatchCase]) -> None:
    if not cases:
        return
    case, rest = cases[0], cases[1:]
    if case.guard is None and _irrefutable(case.pattern):
        _bind_captures(t, subject, case)
        statements.block(t, case.body)
        return
    condition = _condition_node(t, subject, case)
    if condition is None:
        return

    def taken() -> None:
        _bind_captures(t, subject, case)
        statements.block(t, case.body)

    branches.branches(t, condition, taken, lambda: _runtime_cases(t, subject, rest), case)


def _condition_node(t: Context, subject: str, case: cst.MatchCase) -> str | None:
    """A condition node whose test is the case itself: `match subject: case P if G: ...`."""
    captured = set(_captures(case.pattern))
    reads: list[str] = [subject]
    globals_read: set[str] = set()
    parts: list[cst.CSTNode] = [case.pattern] if case.guard is None else [case.pattern, case.guard]
    if case.guard is not None and t.units(case.guard):
        t.reporter.report(rules.STEP_IN_CASE_GUARD, t.location(case.guard))
        return None
    uses = (use for part in parts for use in t.name_uses(part, []))
    if not glue.sort_reads(t, uses, captured, reads, globals_read):
        return None
    glue.flush(t)
    hoisted: list[cst.BaseStatement] = []
    inputs = glue.read_bindings(t, reads, [], case, hoisted)
    if inputs is None:
        return None
    matched = t.temporary("matched")
    test = cst.Match(
        subject=cst.Name(subject),
        cases=[
            case.with_changes(body=_block(_set(matched, True)), leading_lines=[]),
            cst.MatchCase(cst.MatchAs(), _block(_set(matched, False))),
        ],
    )
    finder = ImpureCallFinder()
    case.visit(finder)
    name = t.numbered("if")
    glue.add_node(
        t,
        name,
        NodeKind.CONDITION,
        (*hoisted, test),
        cst.Name(matched),
        inputs,
        ("decision",),
        parts,
        globals_read,
        finder.impure,
    )
    return name


def _bind_captures(t: Context, subject: str, case: cst.MatchCase) -> None:
    """Glue that runs the case's pattern again to bind its names, as the match did."""
    captured = list(dict.fromkeys(_captures(case.pattern)))
    if not captured:
        return
    if isinstance(case.pattern, cst.MatchAs) and case.pattern.pattern is None:
        t.frame.env[captured[0]] = t.frame.env[subject]  # `case name:` binds the subject itself
        return
    rebind = cst.Match(
        subject=cst.Name(subject),
        cases=[cst.MatchCase(case.pattern, _block(cst.Pass()))],
    )
    glue.add_glue(t, rebind, case.pattern, extra_writes=captured)
    t.graph.pending.reads.append(subject)
    glue.flush(t)


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    if isinstance(pattern, cst.MatchAs):
        return pattern.pattern is None or _irrefutable(pattern.pattern)
    if isinstance(pattern, cst.MatchOr):
        return any(_irrefutable(p.pattern) for p in pattern.patterns)
    return False


def _captures(pattern: cst.CSTNode) -> Iterator[str]:
    """The names a pattern binds."""
    if isinstance(pattern, (cst.MatchAs, cst.MatchStar)) and pattern.name is not None:
        yield pattern.name.value
    if isinstance(pattern, cst.MatchMapping) and pattern.rest is not None:
        yield pattern.rest.value
    for child in pattern.children:
        if not isinstance(child, cst.BaseExpression) or isinstance(child, cst.MatchPattern):
            yield from _captures(child)


def _guard_holds(t: Context, guard: cst.BaseExpression, captures: dict[str, Any]) -> bool:
    saved: dict[str, Symbol | None] = {n: t.frame.env.get(n) for n in captures}
    for name, value in captures.items():
        t.frame.env[name] = Literal.of(value)
    try:
        decided = t.fold(guard)
    finally:
        for name, symbol in saved.items():
            if symbol is None:
                t.frame.env.pop(name, None)
            else:
                t.frame.env[name] = symbol
    if decided is NOT_LITERAL:
        raise _Undecided
    return bool(decided)


def _decide(t: Context, pattern: cst.MatchPattern, value: Any) -> dict[str, Any] | None:
    """The names `pattern` binds when it matches the constant `value`, None when it does not."""
    if isinstance(pattern, cst.MatchAs):
        inner = {} if pattern.pattern is None else _decide(t, pattern.pattern, value)
        if inner is not None and pattern.name is not None:
            inner[pattern.name.value] = value
        return inner
    if isinstance(pattern, cst.MatchOr):
        for alternative in pattern.patterns:
            found = _decide(t, alternative.pattern, value)
            if found is not None:
                return found
        return None
    if isinstance(pattern, cst.MatchSingleton):
        return {} if value is _constant(t, pattern.value) else None
    if isinstance(pattern, cst.MatchValue):
        return {} if value == _constant(t, pattern.value) else None
    if isinstance(pattern, (cst.MatchList, cst.MatchTuple)):
        return _decide_sequence(t, pattern, value)
    if isinstance(pattern, cst.MatchMapping):
        return _decide_mapping(t, pattern, value)
    if isinstance(pattern, cst.MatchClass):
        return _decide_class(t, pattern, value)
    raise _Undecided


def _constant(t: Context, expr: cst.BaseExpression) -> Any:
    value = t.fold(expr)
    if value is NOT_LITERAL:
        raise _Undecided
    return value


def _decide_sequence(
    t: Context, pattern: cst.MatchList | cst.MatchTuple, value: Any
) -> dict[str, Any] | None:
    if not isinstance(value, (list, tuple)):
        return None
    elements = list(pattern.patterns)
    stars = [i for i, e in enumerate(elements) if isinstance(e, cst.MatchStar)]
    before = stars[0] if stars else len(elements)
    after = len(elements) - before - 1 if stars else 0
    if (len(value) < before + after) if stars else (len(value) != len(elements)):
        return None
    captures: dict[str, Any] = {}
    pairs = list(zip(elements[:before], value[:before], strict=True))
    if stars:
        star = elements[before]
        assert isinstance(star, cst.MatchStar)
        if star.name is not None:
            captures[star.name.value] = list(value[before : len(value) - after])
        tail = value[len(value) - after :] if after else []
        pairs += list(zip(elements[before + 1 :], tail, strict=True))
    for element, item in pairs:
        assert isinstance(element, cst.MatchSequenceElement)
        found = _decide(t, element.value, item)
        if found is None:
            return None
        captures.update(found)
    return captures


def _decide_mapping(t: Context, pattern: cst.MatchMapping, value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    captures: dict[str, Any] = {}
    keys = []
    for element in pattern.elements:
        key = _constant(t, element.key)
        keys.append(key)
        if key not in value:
            return None
        found = _decide(t, element.pattern, value[key])
        if found is None:
            return None
        captures.update(found)
    if pattern.rest is not None:
        captures[pattern.rest.value] = {k: v for k, v in value.items() if k not in keys}
    return captures


def _decide_class(t: Context, pattern: cst.MatchClass, value: Any) -> dict[str, Any] | None:
    cls = pattern.cls
    builtin = isinstance(cls, cst.Name) and any(kind == "builtin" for kind, _ in t.uses(cls, []))
    if not builtin or pattern.kwds or len(pattern.patterns) > 1:
        raise _Undecided
    assert isinstance(cls, cst.Name)
    kind = _SELF_MATCHING.get(cls.value)
    if kind is None:
        raise _Undecided
    if not isinstance(value, kind):
        return None
    if not pattern.patterns:
        return {}
    return _decide(t, pattern.patterns[0].value, value)


def _set(name: str, value: bool) -> cst.Assign:
    return cst.Assign([cst.AssignTarget(cst.Name(name))], cst.Name(repr(value)))


def _block(small: cst.BaseSmallStatement) -> cst.IndentedBlock:
    return cst.IndentedBlock([cst.SimpleStatementLine([small])])
