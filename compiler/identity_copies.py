"""Identity tests that a compiled run would answer differently: `a is b`, `a is not b`,
`id(a) == id(b)` where Python may find one object and the node holds two copies.

A node reads each input on its own, and only what `shared_inputs` rebuilds stays one object:
a value a glue node handed on (`if flag: x = base`, then a step call), a module-level list
folded into a literal (`rows = [EMPTY]`, `x = TABLE["a"]`) or a branch value holding a step's
output (`[base, one(1)] if flag else [base]`) reaches a later node as a copy of its own. Such
a test is refused at its line (PC618); one whose operand is a singleton, a class, an enum
member or `type(...)`, or whose values were made by the same node, keeps building.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules, trace_sharing
from pipec.compiler.import_kinds import holds_module
from pipec.compiler.shared_inputs import rebuilds_branches
from pipec.literals import Literal
from pipec.manifest import Binding, Container, Select

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["refuse_identity_of_copies"]

_MUTABLE = (list, dict, set, bytearray)

# One operand of an identity test: the expression whose object is compared.
_Test = tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression]


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
    tests = [test for node in own for test in _identity_tests(node)]
    if not tests:
        return
    given = dict(inputs)
    code = [s for s in statements]
    written = [test for node in originals for test in _identity_tests(node)]
    for index, (whole, left, right) in enumerate(tests):
        mine = _operand(t, left, code, given)
        theirs = _operand(t, right, code, given)
        if not _may_part(t, mine, theirs):
            continue
        at = written[index][0] if len(written) == len(tests) else originals[0]
        shown = at if at in t.source.positions else whole
        t.reporter.report(
            rules.IDENTITY_OF_COPIES,
            t.location(at if at in t.source.positions else originals[0]),
            test=_code(t, shown),
        )


def _code(t: Context, node: cst.CSTNode) -> str:
    if node in t.source.positions:
        return t.source.code(node).strip()
    return cst.Module([]).code_for_node(node).strip()


def _identity_tests(node: cst.CSTNode) -> list[_Test]:
    found: list[_Test] = []

    class _Tests(cst.CSTVisitor):
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


def _operand(
    t: Context,
    expr: cst.BaseExpression,
    statements: Sequence[cst.BaseStatement],
    given: Mapping[str, Binding],
) -> set[tuple[object, bool]]:
    """The objects an operand may be or hold: a key per object, with whether the node reads it
    as a copy apart from the same object elsewhere."""
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "type":
        return set()  # a class: one object in every process
    found: set[tuple[object, bool]] = set()
    for name in trace_sharing.held_names(expr):
        for source in trace_sharing.block_sources(t, name, statements, given):
            if source in given:
                found.update(_objects(t, given[source], copied=False))
            elif not holds_module(t, source):
                key = trace_sharing.module_value(t, source)
                if key is not None:
                    found.add((key, False))
    return found


def _objects(t: Context, binding: Binding, copied: bool) -> Iterator[tuple[object, bool]]:
    if isinstance(binding, Select):
        # A branch value the node cannot build itself is read whole, as a copy of what it holds.
        apart = copied or not rebuilds_branches(binding)
        for option in binding.options:
            yield from _objects(t, option.binding, apart)
    elif isinstance(binding, Container):
        yield t.sharing.key(binding), copied
        for item in binding.items:
            yield from _objects(t, item, copied)
    elif (
        isinstance(binding, Literal)
        and not isinstance(binding.value, _MUTABLE)
        or trace_sharing.scalar_parameter(t, binding)
    ):
        return
    else:
        yield t.sharing.key(binding), copied


def _may_part(t: Context, mine: set[tuple[object, bool]], theirs: set[tuple[object, bool]]) -> bool:
    """Whether the two operands may be one object in Python that the node holds as two."""
    for key, copied in mine:
        for other, other_copied in theirs:
            if key == other:
                if copied or other_copied:
                    return True
            elif trace_sharing.related(t, key, other):
                return True
    return False
