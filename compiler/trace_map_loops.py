"""What a loop over a run-time value does besides fanning out: unpacking its target per element,
skipping elements with `if ...: continue`, and leaving its variable bound to the last element.

A skip test further down the body (`x = load(f)`, then `if x["skip"]: continue`) splits the
loop in two fan-outs: the first runs the statements above the test for every element, a glue
node keeps the elements the test lets through together with the names the rest reads, and the
second runs the rest for those. The map bodies have no prints or checks (both refused there),
so nothing but the order of steps across elements, which a fan-out never kept, tells this
apart from Python's one loop."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from pipec.compiler import rules
from pipec.compiler import trace_branches as branches
from pipec.compiler import trace_glue as glue
from pipec.compiler.call_effects import names_calls_may_change
from pipec.compiler.syntax import ImpureCallFinder, within
from pipec.compiler.trace_state import REPORTED, Context, Symbol, Unavailable
from pipec.manifest import Binding, Gather, NodeKind, OutputRef

__all__ = [
    "Segment",
    "bind_last_element",
    "carry",
    "carrying_target",
    "leading_skips",
    "leading_stops",
    "loop_target_names",
    "names_read_later",
    "segments",
    "keep_elements",
    "skip_elements",
    "stop_elements",
    "unpack_element",
]


def loop_target_names(target: cst.BaseExpression) -> list[str] | None:
    """The names a loop target binds, nested tuples and a starred name included; None when it
    also assigns an item or an attribute (`for d[k] in ...`)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.StarredElement):
        return loop_target_names(target.value)
    if not isinstance(target, (cst.Tuple, cst.List)):
        return None
    names: list[str] = []
    for element in target.elements:
        inner = loop_target_names(
            element if isinstance(element, cst.StarredElement) else element.value
        )
        if inner is None:
            return None
        names += inner
    return names


def unpack_element(t: Context, target: cst.BaseAssignTargetExpression, element: str) -> None:
    """Glue at the top of a map body that unpacks the element into the loop's names, so each
    element raises as Python would when its shape does not fit the target."""
    assign = cst.Assign([cst.AssignTarget(_without_parentheses(target))], cst.Name(element))
    names = loop_target_names(target) or []
    glue.add_glue(t, cst.SimpleStatementLine([assign]), target, extra_writes=names)
    t.graph.pending.reads.append(element)


def _without_parentheses(target: cst.BaseAssignTargetExpression) -> cst.BaseAssignTargetExpression:
    if isinstance(target, cst.Tuple):
        return target.with_changes(lpar=[], rpar=[])
    return target


def leading_skips(body: cst.BaseSuite) -> list[cst.If]:
    """The `if TEST: continue` statements a loop body starts with (no `elif`/`else`)."""
    if not isinstance(body, cst.IndentedBlock):
        return []
    found: list[cst.If] = []
    for statement in body.body:
        if not _is_skip(statement):
            break
        found.append(cst.ensure_type(statement, cst.If))
    return found


def leading_stops(body: cst.BaseSuite) -> list[cst.If]:
    """The `if TEST: break` statements a loop body starts with (no `elif`/`else`)."""
    if not isinstance(body, cst.IndentedBlock):
        return []
    found: list[cst.If] = []
    for statement in body.body:
        if not _is_exit(statement, cst.Break):
            break
        found.append(cst.ensure_type(statement, cst.If))
    return found


@dataclass(frozen=True)
class Segment:
    """Skip tests, then the statements up to the next skip test (or the end of the body)."""

    skips: tuple[cst.If, ...]
    statements: tuple[cst.BaseStatement, ...]


def segments(body: Sequence[cst.BaseStatement]) -> list[Segment]:
    """The body cut before each run of `if TEST: continue` statements; the first segment's
    skips are the leading ones (maybe none)."""
    found: list[Segment] = []
    skips: list[cst.If] = []
    run: list[cst.BaseStatement] = []
    for statement in body:
        if _is_skip(statement):
            if run:
                found.append(Segment(tuple(skips), tuple(run)))
                skips, run = [], []
            skips.append(cst.ensure_type(statement, cst.If))
        else:
            run.append(statement)
    found.append(Segment(tuple(skips), tuple(run)))
    return found


def _is_skip(statement: cst.BaseStatement) -> bool:
    return _is_exit(statement, cst.Continue)


def _is_exit(statement: cst.BaseStatement, kind: type[cst.CSTNode]) -> bool:
    if not (isinstance(statement, cst.If) and statement.orelse is None):
        return False
    inner = statement.body
    smalls = (
        [s for line in inner.body for s in getattr(line, "body", [None])]
        if isinstance(inner, cst.IndentedBlock)
        else list(inner.body)
    )
    return len(smalls) == 1 and isinstance(smalls[0], kind)


def names_read_later(
    t: Context, run: Sequence[cst.BaseStatement], later: Sequence[cst.BaseStatement]
) -> list[str]:
    """The names `run` assigns that the statements after it mention: what the next fan-out
    needs from this one, in the order they are first assigned."""
    mentioned: set[str] = set()
    for statement in later:
        mentioned.update(n.value for n in _names_in(statement))
    written: list[str] = []
    for statement in run:
        for name in t.writes(statement):
            if name in mentioned and name not in written:
                written.append(name)
    return written


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class _Names(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            found.append(node)

    node.visit(_Names())
    return found


def carry(t: Context, names: Sequence[str], skip: cst.If) -> list[tuple[str, Binding]]:
    """At the end of a map body, before `skip`: each name in `names` as the list of its value
    per element. A value that is not a node's output of this body (a constant, a container) is
    first made one by a glue node that assigns the name to itself, placed at the skip's
    `continue` (a node that reads and assigns no name)."""
    anchor = _continue_of(skip)
    assert t.frame.map is not None
    in_body = {node.name for node in t.graph.nodes if node.map == t.frame.map}
    copies = [n for n in names if not _output_of(t.frame.env.get(n), in_body)]
    readable = [n for n in copies if not isinstance(t.frame.env.get(n, REPORTED), Unavailable)]
    for name in readable:
        assign = cst.Assign([cst.AssignTarget(cst.Name(name))], cst.Name(name))
        glue.add_glue(t, _line(assign), anchor, extra_writes=[name])
        t.graph.pending.reads.append(name)
    glue.flush(t)
    in_body = {node.name for node in t.graph.nodes if node.map == t.frame.map}
    carried: list[tuple[str, Binding]] = []
    for name in names:
        symbol = t.frame.env.get(name)
        if isinstance(symbol, OutputRef) and symbol.node in in_body:
            carried.append((name, Gather(t.frame.map, symbol.node, symbol.output)))
    return carried


def _continue_of(skip: cst.If) -> cst.Continue:
    inner = skip.body
    lines = inner.body if isinstance(inner, cst.IndentedBlock) else [inner]
    smalls = [small for line in lines for small in getattr(line, "body", [])]
    return cst.ensure_type(smalls[0], cst.Continue)


def _output_of(symbol: Symbol | None, nodes: set[str]) -> bool:
    return isinstance(symbol, OutputRef) and symbol.node in nodes


def carrying_target(
    target: cst.BaseAssignTargetExpression, names: Sequence[str]
) -> cst.BaseAssignTargetExpression:
    """The target of a fan-out whose elements are `(element, *values of names)`."""
    if not names:
        return target
    first = (
        target.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        if isinstance(target, cst.Tuple)
        else target
    )
    return cst.Tuple([cst.Element(first), *(cst.Element(cst.Name(n)) for n in names)])


def skip_elements(
    t: Context,
    over: Binding,
    target: cst.BaseAssignTargetExpression,
    skips: Sequence[cst.If],
    rest: Sequence[cst.BaseStatement],
    carried: Sequence[tuple[str, Binding]] = (),
) -> Binding | None:
    """A glue node that keeps the elements no `if ...: continue` skips: the values the
    fan-out then runs over. The tests read only the element, the `carried` names (each a list
    with one value per element, kept beside it) and names bound before the loop, which the rest
    of the body (`rest`) must not change: each test would see the change."""
    kept = _filter_elements(t, over, target, skips, rest, carried, stop=False)
    return None if kept is None else kept[0]


def stop_elements(
    t: Context,
    over: Binding,
    target: cst.BaseAssignTargetExpression,
    stops: Sequence[cst.If],
    rest: Sequence[cst.BaseStatement],
) -> tuple[Binding, Binding] | None:
    """A glue node that cuts the elements at the first one an `if ...: break` at the top of the
    body stops at: (the elements before it, which the fan-out runs over; those and the stopping
    element, whose last one the loop's names hold after the loop, as in Python). The tests read
    only the element and names bound before the loop, which `rest` must not change."""
    return _filter_elements(t, over, target, stops, rest, (), stop=True)


def keep_elements(
    t: Context,
    over: Binding,
    target: cst.BaseAssignTargetExpression,
    filters: Sequence[cst.CompIf],
) -> Binding | None:
    """A glue node that keeps the elements a comprehension's filters pass
    (`[step(f) for f in files if f.endswith(".csv")]`): the values the fan-out then runs over."""
    skips = [
        cst.If(
            test=cst.UnaryOperation(
                cst.Not(), f.test.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            ),
            body=cst.IndentedBlock([_line(cst.Continue())]),
        )
        for f in filters
    ]
    kept = _filter_elements(
        t, over, target, skips, (), (), stop=False, written=[f.test for f in filters]
    )
    return None if kept is None else kept[0]


def _filter_elements(
    t: Context,
    over: Binding,
    target: cst.BaseAssignTargetExpression,
    tests: Sequence[cst.If],
    rest: Sequence[cst.BaseStatement],
    carried: Sequence[tuple[str, Binding]],
    *,
    stop: bool,
    written: Sequence[cst.BaseExpression] | None = None,
) -> tuple[Binding, Binding] | None:
    """`written`: each test as the file has it, where the tracer wrote `tests` itself."""
    conditions = list(written) if written is not None else [s.test for s in tests]
    anchors: list[cst.CSTNode] = list(written) if written is not None else list(tests)
    refusal = rules.BREAK_UNDER_TEST_IN_RUNTIME_LOOP if stop else rules.IF_IN_RUNTIME_LOOP
    if written is not None:
        refusal = rules.UNSUPPORTED_MAP_COMPREHENSION
    if any(t.units(condition) for condition in conditions):
        t.reporter.report(refusal, t.location(anchors[0]))
        return None
    names = [n for n, _ in carried]
    target = carrying_target(target, names)
    targets = set(loop_target_names(target) or [])
    changed = _changed_names(t, rest)
    reads: list[str] = []
    globals_read: set[str] = set()
    for condition, anchor in zip(conditions, anchors, strict=True):
        uses = list(t.name_uses(condition, []))
        if any(use.value in changed and use.value not in targets for _, use in uses):
            t.reporter.report(refusal, t.location(anchor))
            return None
        if not glue.sort_reads(t, uses, targets, reads, globals_read):
            return None
    glue.flush(t)
    hoisted: list[cst.BaseStatement] = []
    inputs = glue.read_bindings(t, reads, [], anchors[0], hoisted)
    if inputs is None:
        return None
    values, element, kept = t.temporary("values"), t.temporary("element"), t.temporary("kept")
    reached = t.temporary("reached")
    columns = [t.temporary(f"{name}_values") for name in names]
    over_all: cst.BaseExpression = cst.Name(values)
    if carried:
        over_all = cst.Call(cst.Name("zip"), [cst.Arg(cst.Name(c)) for c in (values, *columns)])

    def append(to: str) -> cst.SimpleStatementLine:
        return _line(
            cst.Expr(_call(cst.Attribute(cst.Name(to), cst.Name("append")), cst.Name(element)))
        )

    loop = cst.For(
        target=cst.Name(element),
        iter=over_all,
        body=cst.IndentedBlock(
            [
                _line(
                    cst.Assign([cst.AssignTarget(_without_parentheses(target))], cst.Name(element))
                ),
                *([append(reached)] if stop else []),
                *(s.with_changes(leading_lines=[]) for s in tests),
                append(kept),
            ]
        ),
    )
    starts = [
        _line(cst.Assign([cst.AssignTarget(cst.Name(n))], cst.List([])))
        for n in (kept, *([reached] if stop else []))
    ]
    finder = ImpureCallFinder()
    for condition in conditions:
        condition.visit(finder)
    name = t.numbered("glue")
    glue.add_node(
        t,
        name,
        NodeKind.GLUE,
        (*hoisted, *starts, loop),
        None,
        [*inputs, (values, over), *((c, b) for c, (_, b) in zip(columns, carried, strict=True))],
        (kept, reached) if stop else (kept,),
        anchors,
        globals_read,
        finder.impure,
    )
    return OutputRef(name, kept), OutputRef(name, reached if stop else kept)


def _changed_names(t: Context, statements: Sequence[cst.BaseStatement]) -> set[str]:
    """Names the statements assign, or whose objects a call or an item assignment may change."""
    changed: set[str] = set()
    for statement in statements:
        changed.update(t.writes(statement))
        changed.update(names_calls_may_change(statement))
        for node in _subscript_and_attribute_targets(statement):
            changed.add(node)
    return changed


def _subscript_and_attribute_targets(statement: cst.CSTNode) -> list[str]:
    found: list[str] = []

    class _Targets(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._add(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._add(node.target)

        def _add(self, target: cst.BaseExpression) -> None:
            while isinstance(target, (cst.Subscript, cst.Attribute)):
                target = target.value
            if isinstance(target, cst.Name):
                found.append(target.value)

    statement.visit(_Targets())
    return found


def bind_last_element(
    t: Context,
    node: cst.For,
    over: Binding,
    before: Mapping[str, Symbol],
) -> None:
    """After a fan-out, the loop's names hold the last element, as in Python; after an empty
    one they keep the values they had (or stay unbound). Only when they are read after the loop:
    otherwise nothing is computed."""
    names = loop_target_names(node.target) or []
    read_later = _read_after(t, node, names)
    if not read_later:
        return
    # A loop name the body assigns holds what the body gave it for the last element that got
    # that far: like any name the body assigns, it is not readable after the loop.
    rebound = {n for s in node.body.body for n in t.writes(s)} & set(names)
    if set(names) - rebound:
        _bind_last(t, node, over, before, names)
    for name in sorted(rebound):
        t.frame.env[name] = Unavailable(rules.CARRIED_OUT_OF_RUNTIME_LOOP, {"name": name})


def _bind_last(
    t: Context, node: cst.For, over: Binding, before: Mapping[str, Symbol], names: list[str]
) -> None:
    for name in names:
        if name in before:
            t.frame.env[name] = before[name]
        else:
            t.frame.env.pop(name, None)
    values = t.temporary("values")
    t.frame.env[values] = over
    bound = all(
        name in t.frame.env and not isinstance(t.frame.env[name], Unavailable) for name in names
    )
    if bound:
        _last_element_glue(t, node, values, names)
    else:
        # A name first bound by the loop is unbound after an empty one: a condition node asks
        # whether there was an element, and reading the name on the other path fails as Python's
        # read does.
        condition = t.numbered("if")
        glue.add_node(
            t,
            condition,
            NodeKind.CONDITION,
            (),
            _call(cst.Name("any"), cst.GeneratorExp(cst.Name("True"), _for_in(values))),
            [(values, over)],
            ("decision",),
            [node.target],
            set(),
            False,
        )
        branches.branches(
            t, condition, lambda: _last_element_glue(t, node, values, names), lambda: None
        )
    t.frame.env.pop(values, None)


def _last_element_glue(t: Context, node: cst.For, values: str, names: list[str]) -> None:
    loop = cst.For(
        target=_without_parentheses(node.target),
        iter=cst.Name(values),
        body=cst.IndentedBlock([_line(cst.Pass())]),
    )
    glue.add_glue(t, loop, node.target, extra_writes=names)
    # An empty sequence leaves the names as they were: the glue needs their values.
    t.graph.pending.reads.extend([values, *(n for n in names if n in t.frame.env)])
    glue.flush(t)


def _read_after(t: Context, node: cst.For, names: list[str]) -> bool:
    body = t.source.extent(t.controller.function.body)
    end = t.source.extent(node).end
    for use in t.source.uses_within(body):
        if use.name in names and use.scope is t.controller_scope:
            start = use.range.start
            if (start.line, start.column) > (end.line, end.column) and within(use.range, body):
                return True
    return False


def _for_in(values: str) -> cst.CompFor:
    return cst.CompFor(target=cst.Name("_"), iter=cst.Name(values))


def _call(func: cst.BaseExpression, argument: cst.BaseExpression) -> cst.Call:
    return cst.Call(func, [cst.Arg(argument)])


def _line(small: cst.BaseSmallStatement) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([small])
