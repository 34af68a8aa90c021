"""Identity tests that a compiled run would answer differently: `a is b`, `a is not b`,
`id(a) == id(b)` where Python may find one object and the node holds two copies.

A node reads each input on its own, and only what `shared_inputs` rebuilds stays one object:
a value a glue node handed on (`if flag: x = base`, then a step call) and a module-level list
folded into a literal (`rows = [EMPTY]`, `x = TABLE["a"]`) reach a later node as copies of
their own, and so does what a step returns, which in Python may be what it was given
(`other = keep(box)`, then `other is box`). Such a test is refused at its line (PC618); one whose operand is a singleton, a
class, an enum member, `type(...)` or a new value (`[x]`), or whose values were made by the
same node or rebuilt by it, keeps building.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules, trace_sharing
from pipec.compiler.diagnostics import Location
from pipec.compiler.identity_equal import module_instance_apart
from pipec.compiler.import_kinds import holds_module
from pipec.compiler.shared_inputs import rebuilds_branches
from pipec.compiler.syntax import names_in
from pipec.compiler.trace_sharing import Kind
from pipec.compiler.value_origins import given_to
from pipec.literals import Literal
from pipec.manifest import Binding, Container, ParamRef, Select

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = [
    "IdentityHelper",
    "code_of",
    "may_part",
    "written_at",
    "operand_objects",
    "refuse_identity_of_copies",
]

_MUTABLE = (list, dict, set, bytearray)

_ITSELF = (Kind.SAME, Kind.ANY)
# An object an operand may be: its key, whether the node reads it as a copy, whether the operand
# may also be something inside it.
_Object = tuple[object, bool, bool]
# An identity test: the node that makes it, and the two expressions whose objects it compares.
_Test = tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression]


@dataclass(frozen=True)
class IdentityHelper:
    """A module-level function whose code tests the identity of its parameters
    (`def same(a, b): return a is b`): a call to it is such a test of its arguments."""

    parameters: tuple[str, ...]
    tests: tuple[tuple[cst.BaseExpression, cst.BaseExpression], ...]


def refuse_identity_of_copies(
    t: Context,
    statements: Sequence[cst.BaseStatement],
    expression: cst.BaseExpression | None,
    inputs: Sequence[tuple[str, Binding]],
    originals: Sequence[cst.CSTNode],
) -> None:
    """Report PC618 at each identity test of a node's code whose operands may be one object in
    Python but are copies the node reads apart."""
    own: list[cst.CSTNode] = [*statements, *([expression] if expression is not None else [])]
    helpers = _helpers(t)
    tests = [test for node in own for test in _identity_tests(node, helpers)]
    if not tests:
        return
    given = dict(inputs)
    code = list(statements)
    written = [test for node in originals for test in _identity_tests(node, helpers)]
    for index, (whole, left, right) in enumerate(tests):
        mine = operand_objects(t, left, code, given)
        theirs = operand_objects(t, right, code, given)
        if not may_part(t, mine, theirs) and not module_instance_apart(t, left, right, given):
            continue
        location, test = written_at(t, index, whole, written, len(tests), originals)
        t.reporter.report(rules.IDENTITY_OF_COPIES, location, test=test)


def written_at(
    t: Context,
    index: int,
    whole: cst.CSTNode,
    written: Sequence[tuple[cst.CSTNode, ...]],
    count: int,
    originals: Sequence[cst.CSTNode],
) -> tuple[Location, str]:
    """Where test number `index` of a node's code (`whole`, of `count`) stands in the file,
    and its text: the same test of the code as written (`written`) when the tracer's rewrite
    kept them in step, else the node's first statement."""
    at = written[index][0] if len(written) == count else originals[0]
    shown = at if at in t.source.positions else whole
    return t.location(at if at in t.source.positions else originals[0]), code_of(t, shown)


def code_of(t: Context, node: cst.CSTNode) -> str:
    """The text of `node` as the user wrote it, or as the tracer rewrote it."""
    if node in t.source.positions:
        return t.source.code(node).strip()
    return cst.Module([]).code_for_node(node).strip()


def _helpers(t: Context) -> dict[str, IdentityHelper]:
    if t.identity_helpers is None:
        t.identity_helpers = {}
        for statement in t.source.module.body:
            if isinstance(statement, cst.FunctionDef) and not statement.decorators:
                helper = _identity_helper(statement)
                if helper is not None:
                    t.identity_helpers[statement.name.value] = helper
    return {name: h for name, h in t.identity_helpers.items() if name not in t.frame.env}


def _identity_helper(function: cst.FunctionDef) -> IdentityHelper | None:
    params = function.params
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.star_kwarg is not None:
        return None  # arguments gathered into a tuple or dict: not one argument per parameter
    names = tuple(p.name.value for p in (*params.posonly_params, *params.params))
    names += tuple(p.name.value for p in params.kwonly_params)
    tests = tuple(
        (left, right)
        for _, left, right in _identity_tests(function.body, {})
        if set(names) & {*names_in(left), *names_in(right)}
    )
    return IdentityHelper(names, tests) if tests else None


def _helper_tests(call: cst.Call, helper: IdentityHelper) -> list[_Test]:
    """The helper's identity tests with its parameters replaced by the call's arguments."""
    given: dict[str, cst.BaseExpression] = {}
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args):
        return []
    for name, argument in zip(helper.parameters, positional, strict=False):
        given[name] = argument.value
    for argument in call.args:
        if argument.keyword is not None:
            given[argument.keyword.value] = argument.value

    class _Arguments(cst.CSTTransformer):
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
            return given.get(original.value, updated)

    def _bound(expr: cst.BaseExpression) -> cst.BaseExpression:
        visited = expr.visit(_Arguments())
        assert isinstance(visited, cst.BaseExpression)
        return visited

    return [(call, _bound(left), _bound(right)) for left, right in helper.tests]


def _identity_tests(node: cst.CSTNode, helpers: Mapping[str, IdentityHelper]) -> list[_Test]:
    found: list[_Test] = []

    class _Tests(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Name) and call.func.value in helpers:
                found.extend(_helper_tests(call, helpers[call.func.value]))

        def visit_Comparison(self, comparison: cst.Comparison) -> None:
            left = comparison.left
            for target in comparison.comparisons:
                right = target.comparator
                if isinstance(target.operator, (cst.Is, cst.IsNot)):
                    found.append((comparison, left, right))
                elif _id_of(left) is not None and _id_of(right) is not None:
                    # `id(a) == id(b)`, `id(a) != id(b)`: identity by another name
                    found.append((comparison, _id_of(left), _id_of(right)))  # type: ignore[arg-type]
                left = right

        def visit_FunctionDef(self, function: cst.FunctionDef) -> bool:
            return False  # runs later, if ever, and not with these values

    node.visit(_Tests())
    return found


def _id_of(expr: cst.BaseExpression) -> cst.BaseExpression | None:
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "id"
        and len(expr.args) == 1
    ):
        return expr.args[0].value
    return None


def operand_objects(
    t: Context,
    expr: cst.BaseExpression,
    statements: Sequence[cst.BaseStatement],
    given: Mapping[str, Binding],
    held: Callable[[Binding], bool] | None = None,
) -> set[_Object]:
    """The objects an operand may be: a key per object, with whether the node reads it as a
    copy apart from the same object elsewhere, and whether the operand may be something inside
    it rather than it (`rows[0]`). `held`: also what the operand's value may hold (`[x]`),
    as `==` compares the items of lists, but only the node outputs `held` keeps (a value
    the build worked out, or a parameter, holds only numbers, strings and their containers,
    whose copies compare equal)."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "type":
        return set()  # a class: one object in every process
    found: set[_Object] = set()
    for name, kind in trace_sharing.held_names(expr):
        for source, how in trace_sharing.block_sources(t, name, kind, statements, given):
            if source in given:
                relation = how if held is None else Kind.ANY
                found.update(_objects(t, given[source], relation, False, held))
            elif held is None and not holds_module(t, source):
                key = trace_sharing.module_value(t, source)
                if key is not None and how in _ITSELF:
                    found.add((key, False, how is Kind.ANY))
    return found


def _objects(
    t: Context,
    binding: Binding,
    kind: Kind,
    copied: bool,
    held: Callable[[Binding], bool] | None,
    seen: frozenset[str] = frozenset(),
) -> Iterator[_Object]:
    """What an operand relating to `binding` as `kind` may be; nothing when it is a new value
    that holds it (`[x]`, `x + y`): such a value is never another. `held`: as
    `operand_objects` says."""
    if kind not in _ITSELF:
        return
    if isinstance(binding, Select):
        # A branch value the node cannot build itself is read whole, as a copy of what it holds.
        apart = copied or not rebuilds_branches(binding)
        for option in binding.options:
            yield from _objects(t, option.binding, kind, apart, held, seen)
    elif isinstance(binding, Container):
        if held is None:
            yield t.sharing.key(binding), copied, kind is Kind.ANY
        for item in binding.items:
            inner = trace_sharing.compose(kind, Kind.TOP)
            yield from _objects(t, item, inner, copied, held, seen)
    elif (
        isinstance(binding, Literal)
        and (held is not None or not isinstance(binding.value, _MUTABLE))
        or isinstance(binding, ParamRef)
        and (held is not None or trace_sharing.scalar_parameter(t, binding))
    ):
        return
    else:
        if held is None or held(binding):
            yield t.sharing.key(binding), copied, kind is Kind.ANY
        yield from _passed_to_step(t, binding, held, seen)


def _passed_to_step(
    t: Context, binding: Binding, held: Callable[[Binding], bool] | None, seen: frozenset[str]
) -> Iterator[_Object]:
    """What a step's output may be in Python besides itself: a step called as a plain function
    may return its argument, or something inside it (`keep(box) is box`); the compiled step
    returns a copy of it. The same for what a fan-out gathers and the element it hands on."""
    passed = given_to(t, binding)
    if passed is None or passed[0] in seen:
        return
    node, values = passed
    for value in values:
        for key, _, _ in _objects(t, value, Kind.ANY, True, held, seen | {node}):
            yield key, True, True


def may_part(t: Context, mine: set[_Object], theirs: set[_Object]) -> bool:
    """Whether the two operands may be one object in Python that the node holds as two."""
    for key, copied, loose in mine:
        for other, other_copied, other_loose in theirs:
            if key == other:
                if copied or other_copied:
                    return True
            elif trace_sharing.related(t, key, other, loose or other_loose):
                return True
    return False
