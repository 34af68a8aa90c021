"""Tracing branches: `if` and `a if test else b`, folded when constant, else a condition node and guarded sides."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import libcst as cst

from pipec.compiler import rules, trace_values
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_statements as statements
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.module_state import check_module_state
from pipec.compiler.syntax import (
    COMPREHENSIONS,
    Replacer,
)
from pipec.compiler.trace_state import (
    UNBOUND,
    Context,
    Frame,
    Symbol,
    Unavailable,
)
from pipec.manifest import (
    Binding,
    Guard,
    Literal,
    NodeKind,
    OutputRef,
    Select,
    SelectOption,
)

__all__ = ["bool_operation", "branches", "condition_node", "if_", "if_expression"]


def if_(t: Context, node: cst.If) -> None:
    decided = t.fold(node.test)
    if decided is not NOT_LITERAL and not any(
        k == "local" and not isinstance(t.frame.env.get(n), Literal)
        for k, n in t.uses(node.test, [])
    ):
        statements.block(t, node.body if decided else node.orelse)
        return
    if not t.structural(node):
        glue.glue_statement(t, node, node)
        return
    if t.frame.map is not None:
        breaks = _breaks_out(node)
        refused = rules.BREAK_UNDER_TEST_IN_RUNTIME_LOOP if breaks else rules.IF_IN_RUNTIME_LOOP
        t.reporter.report(refused, t.location(breaks or node))
        return
    assigned = _walrus_assignments(t, node.test)
    if assigned is None:
        return
    condition = condition_node(t, node.test, assigned)
    if condition is None:
        return
    branches(
        t,
        condition,
        lambda: statements.block(t, node.body),
        lambda: statements.block(t, node.orelse),
        node,
    )


def _breaks_out(node: cst.If) -> cst.Break | None:
    """A `break` under `node` that leaves the loop `node` is in (not one of an inner loop)."""
    found: list[cst.Break] = []

    class _Breaks(cst.CSTVisitor):
        def visit_Break(self, node: cst.Break) -> None:
            found.append(node)

        def visit_For(self, node: cst.For) -> bool:
            return False

        def visit_While(self, node: cst.While) -> bool:
            return False

    node.visit(_Breaks())
    return found[0] if found else None


def condition_node(
    t: Context, test: cst.BaseExpression, assigned: Mapping[cst.CSTNode, str] | None = None
) -> str | None:
    """A condition node that computes `bool(test)` at run time; `assigned` maps the walrus
    expressions in `test` that glue has already computed to the name each assigned."""
    assigned = assigned or {}
    replaced = glue.hoist(t, test, list(assigned))
    if replaced is None:
        return None
    replaced.update(assigned)
    glue.flush(t)
    expression = test.visit(Replacer(replaced)) if replaced else test
    assert isinstance(expression, cst.BaseExpression)
    skip = [t.source.extent(u) for u in replaced if u in t.source.positions]
    reads = [n for k, n in t.uses(test, skip) if k == "local"] + list(replaced.values())
    globals_read = {n for k, n in t.uses(test, skip) if k == "global"}
    for kind, name in t.uses(test, skip):
        if kind == "undefined":
            t.reporter.report(rules.UNDEFINED_NAME, t.location(test), name=name)
            return None
    hoisted: list[cst.BaseStatement] = []
    inputs = glue.read_bindings(t, reads, [], test, hoisted)
    if inputs is None:
        return None
    name = t.numbered("if")
    glue.add_node(
        t,
        name,
        NodeKind.CONDITION,
        tuple(hoisted),
        expression,
        inputs,
        ("decision",),
        [test],
        globals_read,
        False,
    )
    check_module_state(t, name, [test])  # `if random.random() > 0.5:` after a seed and a step
    return name


def _walrus_assignments(t: Context, test: cst.BaseExpression) -> dict[cst.CSTNode, str] | None:
    """`if (k := len(xs)) > 1:`: each walrus in the test runs first, as glue that assigns its
    name, so the branches and the code after the `if` read it. A walrus Python may skip (on
    the right of `and`/`or`, in a side of `a if c else b`) is refused."""
    assigned: dict[cst.CSTNode, str] = {}
    stack: list[tuple[cst.CSTNode, bool]] = [(test, False)]
    while stack:
        node, conditional = stack.pop()
        if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
            if conditional:
                t.reporter.report(rules.CONDITIONAL_WALRUS, t.location(node))
                return None
            assigned[node] = node.target.value
            continue
        if isinstance(node, (cst.Lambda, *COMPREHENSIONS)):
            continue
        children: list[tuple[cst.CSTNode, bool]]
        if isinstance(node, cst.BooleanOperation):
            children = [(node.left, conditional), (node.right, True)]
        elif isinstance(node, cst.IfExp):
            children = [(node.test, conditional), (node.body, True), (node.orelse, True)]
        else:
            children = [(c, conditional) for c in node.children]
        stack.extend(reversed(children))  # left to right, as Python evaluates
    for named, name in assigned.items():
        assert isinstance(named, cst.NamedExpr)
        statement = cst.Assign([cst.AssignTarget(cst.Name(name))], named.value)
        glue.glue_statement(t, statement, named, extra_writes=[name])
    return assigned


def branches(
    t: Context,
    condition: str,
    on_true: Callable[[], None],
    on_false: Callable[[], None],
    anchor: cst.CSTNode | None = None,
) -> None:
    """Trace both sides of a run-time decision, each in its own frame, then join the frames.
    `anchor`: the statement deciding, where a node gating the code after it is placed."""
    outer = t.frame
    outcomes: list[Frame] = []
    for decision, trace in ((True, on_true), (False, on_false)):
        t.frame = outer.branch(Guard(condition, decision))
        trace()
        glue.flush(t)
        outcomes.append(t.frame)
    t.frame = _join(outer, *outcomes)
    _pick_many_choices(t, anchor)
    true, false = outcomes
    # A side that returned on some of its paths only (`if a: if b: return x`) goes on under
    # guards of its own; the code after the `if` runs where either side went on, which one
    # conjunction of guards cannot say: a condition node decides it.
    partly = any(len(frame.guards) > len(outer.guards) + 1 for frame in outcomes)
    if partly and not true.terminated and not false.terminated and anchor is not None:
        _gate_on_paths_going_on(t, true.guards, false.guards, anchor)


def _pick_many_choices(t: Context, anchor: cst.CSTNode | None) -> None:
    """A name that chooses between many values after this `if` (one per path through the
    `if`s before it: `if x != q: xs.append(one(x))` in each pass of a loop) is picked by a glue
    node, so that the next `if` starts from one value and the build grows with the passes, not
    with their square. The glue hands on a copy: only a value no other name holds any part of,
    made of nodes' outputs and numbers or strings, is picked."""
    if t.frame.map is not None:
        return
    for name, symbol in list(t.frame.env.items()):
        if not isinstance(symbol, Select) or not trace_values.many_choices(symbol):
            continue
        parts = trace_values.value_parts(symbol)
        if not all(
            isinstance(part, OutputRef) and part.node != UNBOUND or isinstance(part, Literal)
            for part in parts
        ):
            continue
        held = [
            part
            for other, value in t.frame.env.items()
            if other != name
            for part in trace_values.value_parts(value)
        ]
        if any(
            part is other or isinstance(part, OutputRef) and part == other
            for part in parts
            if not (isinstance(part, Literal) and not isinstance(part.value, (list, dict, set)))
            for other in held
        ):
            continue
        glue.rebind(t, name, anchor if anchor is not None else t.controller.function)


def _gate_on_paths_going_on(
    t: Context, true: tuple[Guard, ...], false: tuple[Guard, ...], anchor: cst.CSTNode
) -> None:
    going_on = Select(
        (
            SelectOption(true, Literal.of(True)),
            SelectOption(false, Literal.of(True)),
            SelectOption(t.frame.guards, Literal.of(False)),  # it returned or raised
        )
    )
    gate = _decide_on(t, going_on, "_pipec_going_on", anchor)
    t.frame = dataclasses.replace(t.frame, guards=(*t.frame.guards, Guard(gate, True)))


def _decide_on(t: Context, value: Binding, what: str, anchor: cst.CSTNode) -> str:
    """A condition node deciding on the truth of an already bound `value`."""
    operand = t.temporary(what)
    condition = t.numbered("if")
    glue.add_node(
        t,
        condition,
        NodeKind.CONDITION,
        (),
        cst.Name(operand),
        [(operand, value)],
        ("decision",),
        [anchor],
        set(),
        False,
    )
    return condition


def _join(outer: Frame, true: Frame, false: Frame) -> Frame:
    """The frame after an `if`: a side that ended drops out; names bound differently choose."""
    joined = dataclasses.replace(
        outer,
        last_effects=tuple(dict.fromkeys((*true.last_effects, *false.last_effects))),
        barriers=tuple(dict.fromkeys((*true.barriers, *false.barriers))),
        terminated=true.terminated and false.terminated,
    )
    if true.terminated and not false.terminated:
        return dataclasses.replace(joined, env=false.env, guards=false.guards)
    if false.terminated and not true.terminated:
        return dataclasses.replace(joined, env=true.env, guards=true.guards)
    if not true.terminated:
        joined.env = _merge(true.env, true.guards, false.env, false.guards)
    return joined


def if_expression(t: Context, expr: cst.IfExp, what: str) -> Symbol | None:
    """`a(x) if test else b(x)`: a constant test picks one side; a run-time one branches."""
    decided = t.fold(expr.test)
    if decided is not NOT_LITERAL:
        chosen = expr.body if decided else expr.orelse
        symbol = trace_values.structured(t, chosen, what)
        if symbol is None and not t.units(chosen):
            # A side without steps that is no compile-time value (`0 if not xs else 1`): a glue
            # node computes it, as when it stands alone.
            return trace_values.bind(t, chosen, what)
        return symbol
    if t.frame.map is not None:
        t.reporter.report(rules.CONDITIONAL_STEP_IN_RUNTIME_LOOP, t.location(expr))
        return None
    glue.flush(t)
    assigned = _walrus_assignments(t, expr.test)  # `f(k) if (k := g(x)) else 0`
    if assigned is None:
        return None
    condition = condition_node(t, expr.test, assigned)
    if condition is None:
        return None
    temp = t.temporary(what)

    def side(value: cst.BaseExpression) -> Callable[[], None]:
        def trace() -> None:
            binding = trace_values.bind(t, value, what)
            if binding is not None:
                t.frame.env[temp] = binding

        return trace

    branches(t, condition, side(expr.body), side(expr.orelse))
    return t.frame.env.pop(temp, None)


def bool_operation(t: Context, expr: cst.BooleanOperation, what: str) -> Symbol | None:
    """`check(x) and risky(x)`, `a or fallback(x)`: the right side runs only when Python
    would evaluate it, decided by a condition node on the left side's value."""
    if t.frame.map is not None:
        t.reporter.report(rules.CONDITIONAL_STEP_IN_RUNTIME_LOOP, t.location(expr))
        return None
    is_and = isinstance(expr.operator, cst.And)
    left = trace_values.bind(t, expr.left, what)
    if left is None:
        return None
    if isinstance(left, Literal):
        reaches_right = bool(left.value) == is_and
        return trace_values.structured(t, expr.right, what) if reaches_right else left
    glue.flush(t)
    condition = _decide_on(t, left, what, expr)
    temp = t.temporary(what)

    def left_side() -> None:
        t.frame.env[temp] = left

    def right_side() -> None:
        binding = trace_values.bind(t, expr.right, what)
        if binding is not None:
            t.frame.env[temp] = binding

    if is_and:
        branches(t, condition, right_side, left_side)
    else:
        branches(t, condition, left_side, right_side)
    return t.frame.env.pop(temp, None)


def _merge(
    env_a: dict[str, Symbol],
    guards_a: tuple[Guard, ...],
    env_b: dict[str, Symbol],
    guards_b: tuple[Guard, ...],
) -> dict[str, Symbol]:
    """After an `if`: names bound alike keep their value; the others choose by branch."""
    merged: dict[str, Symbol] = {}
    for name in sorted(env_a.keys() | env_b.keys()):
        a, b = env_a.get(name), env_b.get(name)
        if a == b and a is not None:
            merged[name] = a
            continue
        if isinstance(a, Unavailable) or isinstance(b, Unavailable):
            merged[name] = a if isinstance(a, Unavailable) else b  # type: ignore[assignment]
            continue
        options: list[SelectOption] = []
        for guards, symbol in ((guards_a, a), (guards_b, b)):
            binding = (
                OutputRef(UNBOUND, name) if symbol is None else trace_values.as_binding(symbol)
            )
            options.extend(_flattened(guards, binding))
        merged[name] = Select(tuple(options))
    return merged


def _flattened(guards: tuple[Guard, ...], binding: Binding) -> list[SelectOption]:
    """`binding` under `guards`, a choice it makes itself lifted into options of their own.

    A run-time `if` in a loop of n steps (`if x != q: xs.append(one(x))`) chooses the value
    after it from the value before it: nested, the choice would be n levels deep. The first
    option whose guards all hold is taken, so the inner options with the outer guards added
    choose the same.
    """
    if not isinstance(binding, Select):
        return [SelectOption(guards, binding)]
    return [
        SelectOption(tuple(dict.fromkeys((*guards, *option.when))), option.binding)
        for option in binding.options
    ]
