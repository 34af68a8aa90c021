"""Tracing loops: `for` and comprehensions unrolled at compile time, or one map node when the values come at run time."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import libcst as cst

from pipec.compiler import rules, trace_values
from pipec.compiler import trace_branches as branches
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_map_loops as map_loops
from pipec.compiler import trace_statements as statements
from pipec.compiler.fold import MAX_UNROLL
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.syntax import (
    COMPREHENSIONS,
    contains,
    names_of,
)
from pipec.compiler.trace_state import (
    Context,
    LoopExit,
    Symbol,
    TupleResult,
    Unavailable,
)
from pipec.manifest import (
    Binding,
    Container,
    Gather,
    Literal,
    NodeKind,
    OutputRef,
)

__all__ = [
    "comprehension",
    "comprehension_clause",
    "for_",
    "iteration",
    "map_",
    "map_comprehension",
    "map_loop",
]


def iteration(t: Context, expr: cst.BaseExpression) -> list[Symbol] | None:
    """The values a `for` runs over, when they are known at compile time."""
    if isinstance(expr, (cst.List, cst.Tuple)) and not t.fold_is_constant(expr):
        # A list written out in place, whose items are step outputs: known at compile time.
        listed = trace_values.structured(t, expr, "values")
        if trace_values.is_sequence(listed):
            return list(listed.items)  # type: ignore[union-attr]
    if isinstance(expr, cst.Name):
        symbol = t.frame.env.get(expr.value)
        if isinstance(symbol, TupleResult):
            return list(symbol.items)
        if trace_values.is_sequence(symbol):
            return list(symbol.items)  # type: ignore[union-attr]
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value in ("enumerate", "zip")
        and not any(a.keyword or a.star for a in expr.args)
    ):
        sequences = [iteration(t, a.value) for a in expr.args]
        if sequences and all(s is not None for s in sequences):
            if expr.func.value == "enumerate" and len(sequences) == 1:
                return [
                    Container.of_tuple((Literal.of(i), trace_values.as_binding(v)))
                    for i, v in enumerate(sequences[0] or [])
                ]
            if expr.func.value == "zip":
                return [
                    Container.of_tuple(tuple(trace_values.as_binding(v) for v in group))
                    for group in zip(*[s or [] for s in sequences], strict=False)
                ]
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in ("items", "keys", "values")
        and not expr.args
    ):
        mapping = trace_values.structured(t, expr.func.value, "mapping")
        entries: list[tuple[Any, Binding]] | None = None
        if isinstance(mapping, Container) and not mapping.is_sequence:
            entries = list(mapping.entries())
        elif isinstance(mapping, Literal) and isinstance(mapping.value, dict):
            entries = [(k, Literal.of(v)) for k, v in mapping.value.items()]
        if entries is not None:
            method = expr.func.attr.value
            if method == "keys":
                return [Literal.of(k) for k, _ in entries]
            if method == "values":
                return [v for _, v in entries]
            return [Container.of_tuple((Literal.of(k), v)) for k, v in entries]
    value = t.fold(expr)
    if value is NOT_LITERAL or isinstance(value, (set, frozenset)):
        return None
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, (list, tuple, str)):
        return None
    return [Literal.of(v) for v in value]


def for_(t: Context, node: cst.For) -> None:
    values = iteration(t, node.iter)
    if not t.structural(node):
        glue.glue_statement(t, node, node)
        return
    if values is None:
        map_loop(t, node)
        return
    if len(values) > MAX_UNROLL:
        t.reporter.report(
            rules.TOO_MANY_ITERATIONS,
            t.location(node.iter),
            count=len(values),
            limit=MAX_UNROLL,
        )
        return
    t.loop_guards.append(t.frame.guards)
    broke = False
    try:
        for value in values:
            glue.flush(t)
            if not statements.assign(t, node.target, value, node):
                t.reporter.report(rules.LOOP_VALUES_NOT_UNPACKABLE, t.location(node.target))
                return
            try:
                statements.block(t, node.body)
            except LoopExit as exit_:
                if exit_.kind == "break":
                    broke = True
                    break
            if t.frame.terminated:
                return
    finally:
        t.loop_guards.pop()
    if not broke and node.orelse is not None:
        statements.block(t, node.orelse)


def map_loop(t: Context, node: cst.For) -> None:
    if node.orelse is not None:
        t.reporter.report(rules.FOR_ELSE_OVER_RUNTIME_VALUE, t.location(node.orelse))
        return
    before = {
        n: t.frame.env[n]
        for n in map_loops.loop_target_names(node.target) or []
        if n in t.frame.env
    }
    over = _runtime_values(t, node.iter, node.target, node)
    if over is None:
        return
    if not isinstance(node.body, cst.IndentedBlock):
        if map_(t, over, node.iter, node.target, lambda: statements.block(t, node.body)):
            map_loops.bind_last_element(t, node, over, before)
        return
    stops = map_loops.leading_stops(node.body)
    if not stops:
        if _fan_outs(t, node, node.body, over):
            map_loops.bind_last_element(t, node, over, before)
        return
    # `if TEST: break` first: Python runs the body for the elements before the first one TEST
    # holds for, which a glue node finds before the fan-out; the loop's names then hold that
    # element (or the last one, when none stopped the loop).
    rest = node.body.body[len(stops) :]
    cut = map_loops.stop_elements(t, over, node.target, stops, rest)
    if cut is None:
        return
    kept, reached = cut
    if not rest or _fan_outs(t, node, node.body.with_changes(body=rest), kept):
        map_loops.bind_last_element(t, node, reached, before)


def _fan_outs(t: Context, node: cst.For, body: cst.IndentedBlock, over: Binding) -> bool:
    """One fan-out per segment of the body between skip tests; False after an error."""
    parts = map_loops.segments(body.body)
    elements = over
    target: cst.BaseAssignTargetExpression = node.target
    carried: list[tuple[str, Binding]] = []
    for index, part in enumerate(parts):
        later = [s for p in parts[index + 1 :] for s in (*p.skips, *p.statements)]
        if part.skips:
            # A name any statement of the body changes would change under the test too: the
            # ones above it (`seen.append(x)`) as much as the ones below.
            body_statements = [s for p in parts for s in p.statements]
            kept = map_loops.skip_elements(
                t, elements, target, part.skips, body_statements, carried
            )
            if kept is None:
                return False
            elements = kept
            target = map_loops.carrying_target(target, [n for n, _ in carried])
        needed = map_loops.names_read_later(t, part.statements, later) if later else []
        following = parts[index + 1].skips[0] if later else None
        traced = _Traced()
        trace = _segment_body(t, body, part, needed, following, traced)
        map_(t, elements, node.iter, target, trace)
        if traced.ended:
            break  # a `continue` every element reaches: the rest of the body is dead code
        carried = traced.carried
    return True


@dataclasses.dataclass
class _Traced:
    """What tracing one segment of a split loop body left for the next."""

    ended: bool = False
    carried: list[tuple[str, Binding]] = dataclasses.field(default_factory=list)


def _segment_body(
    t: Context,
    body: cst.IndentedBlock,
    part: map_loops.Segment,
    needed: list[str],
    following: cst.If | None,
    traced: _Traced,
) -> Callable[[], None]:
    def trace() -> None:
        try:
            statements.block(t, body.with_changes(body=part.statements))
        except LoopExit:
            traced.ended = True
            raise
        if needed and following is not None:
            traced.carried = map_loops.carry(t, needed, following)

    return trace


def _runtime_values(
    t: Context,
    iterable: cst.BaseExpression,
    target: cst.BaseAssignTargetExpression,
    anchor: cst.CSTNode,
) -> Binding | None:
    """The binding of the values a run-time loop runs over, after checking it can run here."""
    if t.frame.map is not None:
        t.reporter.report(rules.NESTED_RUNTIME_LOOPS, t.location(anchor))
        return None
    if map_loops.loop_target_names(target) is None:
        t.reporter.report(rules.UNPACKING_IN_RUNTIME_LOOP, t.location(target))
        return None
    return trace_values.bind(t, iterable, "items")


def map_(
    t: Context,
    over: Binding,
    iterable: cst.BaseExpression,
    target: cst.BaseAssignTargetExpression,
    body: Callable[[], None],
) -> str | None:
    """A fan-out decided at run time: one map node, and body nodes expanded per element."""
    glue.flush(t)
    name = t.numbered("map")
    glue.add_node(
        t,
        name,
        NodeKind.MAP,
        (),
        cst.Name("over"),
        [("over", over)],
        ("items",),
        [iterable],
        set(),
        False,
    )
    outer = t.frame
    element = target.value if isinstance(target, cst.Name) else t.temporary("element")
    t.frame = outer.map_body(name, element)
    try:
        if not isinstance(target, cst.Name):
            map_loops.unpack_element(t, target, element)
        body()
        glue.flush(t)
    except LoopExit:
        pass
    inner = t.frame
    # Back outside the loop: the ordering state goes on, the body's names do not come out,
    # except the lists it gathered into.
    env = dict(outer.env)
    for key, symbol in inner.env.items():
        if key == element and element not in names_of_target(target):
            continue
        if outer.env.get(key) != symbol and key not in inner.map_gathers:
            env[key] = Unavailable(rules.CARRIED_OUT_OF_RUNTIME_LOOP, {"name": key})
    env.update(inner.map_gathers)
    t.frame = dataclasses.replace(
        inner, env=env, map=outer.map, map_env=outer.map_env, map_gathers=outer.map_gathers
    )
    return name


def names_of_target(target: cst.BaseAssignTargetExpression) -> list[str]:
    return map_loops.loop_target_names(target) or []


def comprehension(t: Context, expr: cst.BaseExpression, what: str) -> Symbol | None:
    """A list or dict comprehension that calls steps."""
    assert isinstance(expr, COMPREHENSIONS)
    if isinstance(expr, cst.SetComp):
        t.reporter.report(rules.SET_COMPREHENSION_OF_STEPS, t.location(expr))
        return None
    clause = expr.for_in
    values = iteration(t, clause.iter)
    if values is None:
        return map_comprehension(t, expr, what)
    results: list[Binding] | dict[Any, Binding] = {} if isinstance(expr, cst.DictComp) else []
    saved = dict(t.frame.env)
    filtered = _Filtered(len(t.graph.nodes))
    with _inside(t, expr):
        comprehension_clause(t, expr, clause, values, results, what, filtered)
    for name in names_of(clause.target):
        if name in saved:
            t.frame.env[name] = saved[name]
        else:
            t.frame.env.pop(name, None)
    if filtered.temp is not None:
        return t.frame.env.pop(filtered.temp, None)
    return (
        trace_values.make_dict(results)
        if isinstance(results, dict)
        else trace_values.make_list(tuple(results))
    )


@dataclasses.dataclass
class _Filtered:
    """A list comprehension some of whose values a run-time filter decides: from the first such
    value on, the list so far is the controller value `temp`, grown on the paths that keep one."""

    first_node: int  # the nodes from this index on are the comprehension's own
    temp: str | None = None


def comprehension_clause(
    t: Context,
    expr: cst.ListComp | cst.DictComp | cst.GeneratorExp | cst.SetComp,
    clause: cst.CompFor,
    values: list[Symbol],
    results: list[Binding] | dict[Any, Binding],
    what: str,
    filtered: _Filtered | None = None,
) -> None:
    for value in values:
        glue.flush(t)
        if not statements.assign(t, clause.target, value, clause):
            t.reporter.report(rules.COMPREHENSION_VALUES_NOT_UNPACKABLE, t.location(clause.target))
            return
        keep = True
        tests: list[cst.CompIf] = []  # decided at run time, in order
        for condition in clause.ifs:
            decided = t.fold(condition.test)
            if decided is NOT_LITERAL:
                tests.append(condition)
                continue
            if not decided and tests:
                # Python still runs the tests before it: one run-time test would do here.
                t.reporter.report(rules.RUNTIME_COMPREHENSION_FILTER, t.location(tests[0]))
                return
            keep = keep and bool(decided)
            if not keep:
                break
        if not keep:
            continue
        if tests or (filtered is not None and filtered.temp is not None):
            if not _filter_at_run_time(t, expr, clause, tests, results, what, filtered):
                return
            continue
        if clause.inner_for_in is not None:
            inner = iteration(t, clause.inner_for_in.iter)
            if inner is None:
                t.reporter.report(
                    rules.NESTED_RUNTIME_COMPREHENSION, t.location(clause.inner_for_in)
                )
                return
            comprehension_clause(t, expr, clause.inner_for_in, inner, results, what)
            continue
        if isinstance(expr, cst.DictComp):
            key = t.fold(expr.key)
            if key is NOT_LITERAL:
                t.reporter.report(rules.RUNTIME_DICT_KEY, t.location(expr.key))
                return
            item = trace_values.bind(t, expr.value, what)
            if item is not None and isinstance(results, dict):
                results[key] = item
        else:
            item = trace_values.bind(t, expr.elt, what)
            if item is not None and isinstance(results, list):
                results.append(item)


def _filter_at_run_time(
    t: Context,
    expr: cst.ListComp | cst.DictComp | cst.GeneratorExp | cst.SetComp,
    clause: cst.CompFor,
    tests: list[cst.CompIf],
    results: list[Binding] | dict[Any, Binding],
    what: str,
    filtered: _Filtered | None,
) -> bool:
    """`[step(x) for x in VALUES if test(x)]` with a test decided at run time: a condition node
    for each test, the value made and kept only on the path where they all pass, as the same
    `for` loop with an `if` would. False after an error."""
    anchor = tests[0] if tests else clause
    if (
        filtered is None
        or not isinstance(expr, cst.ListComp | cst.GeneratorExp)
        or clause.inner_for_in is not None
        or t.frame.map is not None
        or not isinstance(results, list)
        or any(contains(test.test, cst.NamedExpr) for test in tests)
    ):
        t.reporter.report(rules.RUNTIME_COMPREHENSION_FILTER, t.location(anchor))
        return False
    if filtered.temp is None:
        filtered.temp = t.temporary(what)
        t.frame.env[filtered.temp] = trace_values.make_list(tuple(results))
    temp = filtered.temp
    if not _settled(t, temp, expr, filtered.first_node):
        t.reporter.report(rules.RUNTIME_COMPREHENSION_FILTER, t.location(anchor))
        return False
    failed = False

    def passed(remaining: list[cst.CompIf]) -> None:
        nonlocal failed
        if remaining:
            condition = branches.condition_node(t, remaining[0].test)
            if condition is None:
                failed = True
                return
            branches.branches(t, condition, lambda: passed(remaining[1:]), lambda: None)
            return
        item = trace_values.bind(t, expr.elt, what)
        if item is None:
            failed = True
            return
        current = t.frame.env[temp]
        grown = trace_values.extended(current, (item,))
        if grown is not None:
            t.frame.env[temp] = grown
        elif not _own_values(t, [item], filtered.first_node):
            t.reporter.report(rules.RUNTIME_COMPREHENSION_FILTER, t.location(anchor))
            failed = True
        else:
            value = f"{temp}_value"
            glue.rebind(t, temp, expr, f"{temp} = [*{temp}, {value}]", [(value, item)])

    passed(tests)
    return not failed


def _settled(t: Context, temp: str, anchor: cst.CSTNode, first_node: int) -> bool:
    """Controller value `temp` made one value again when it chooses between many (one per
    path through the filters so far), so that the build grows with the values, not the paths.
    A glue node picks it at run time, which copies the list: only values the comprehension made
    itself (its nodes' outputs, numbers, strings) may be in it. False when one is not."""
    current = t.frame.env[temp]
    if not trace_values.many_choices(current):
        return True
    if not _own_values(t, trace_values.leaf_items(current), first_node):
        return False
    glue.rebind(t, temp, anchor)
    return True


def _own_values(t: Context, items: list[Binding], first_node: int) -> bool:
    own = {node.name for node in t.graph.nodes[first_node:]}
    return all(
        isinstance(item, OutputRef)
        and item.node in own
        or isinstance(item, Literal)
        and not isinstance(item.value, (list, dict, set))
        for item in items
    )


def map_comprehension(t: Context, expr: cst.BaseExpression, what: str) -> Symbol | None:
    if not isinstance(expr, (cst.ListComp, cst.GeneratorExp)) or expr.for_in.inner_for_in:
        t.reporter.report(rules.UNSUPPORTED_MAP_COMPREHENSION, t.location(expr))
        return None
    filters = expr.for_in.ifs
    if any(contains(f.test, cst.NamedExpr) for f in filters):
        t.reporter.report(rules.UNSUPPORTED_MAP_COMPREHENSION, t.location(expr))
        return None
    collected: dict[str, Gather] = {}

    def body() -> None:
        value = trace_values.bind(t, expr.elt, what, in_map=True)
        if isinstance(value, OutputRef) and t.frame.map is not None:
            collected["value"] = Gather(t.frame.map, value.node, value.output)

    target = expr.for_in.target
    names = names_of_target(target)
    before = {n: t.frame.env[n] for n in names if n in t.frame.env}
    with _inside(t, expr):
        over = _runtime_values(t, expr.for_in.iter, target, expr)
        if over is not None and filters:
            # The filters run first, in glue, over every element: the fan-out runs over those
            # they keep, as the comprehension calls the step for those only.
            over = map_loops.keep_elements(t, over, target, filters)
        if over is not None:
            map_(t, over, expr.for_in.iter, target, body)
    # A comprehension's variables are its own: the controller's names of the same spelling
    # keep their values (map_ marks a loop variable as not readable after the loop).
    for name in names:
        if name in before:
            t.frame.env[name] = before[name]
        else:
            t.frame.env.pop(name, None)
    return collected.get("value")


@contextlib.contextmanager
def _inside(t: Context, expr: cst.BaseExpression) -> Iterator[None]:
    """Names bound by comprehension `expr` read as controller names while it is traced."""
    body = expr.key if isinstance(expr, cst.DictComp) else getattr(expr, "elt", expr)
    scope = t.source.scopes.get(body)
    t.inner_scopes.append(scope)
    try:
        yield
    finally:
        t.inner_scopes.pop()
