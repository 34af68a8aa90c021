"""Comparisons by `==` that are identity tests in disguise, where a compiled run holds copies.

An object of a class with no `__eq__` of its own is equal only to itself, and so is an
`object()` sentinel: `a == b`, `a in xs`, `d[a]`, `d.get(a)`, `xs.index(a)` and `==` between
lists holding such objects ask whether two places hold one object. A node reads each input as
a copy of its own, so where Python may find one object (`other = keep(box)` then
`other == box`; `d = {box: 1}`, a step call, then `box in d`) the compiled run finds two, and
answers False. Such a comparison is refused at its line (PC619).

What counts as such a class is decided from the file alone: a class of the file that neither
defines `__eq__`, nor gets one from a base (a file class that has one, a library class, an
Enum, a NamedTuple), nor is a dataclass with `eq`. Objects of library classes cannot be known
and are not checked; nor is a comparison of a field (`a.name == b.name`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.identity_copies import may_part, operand_objects, written_at
from pipec.compiler.identity_equal import (
    identity_equal_kinds,
    identity_origin,
    module_instance_apart,
)
from pipec.compiler.syntax import names_in
from pipec.compiler.value_origins import may_hold
from pipec.manifest import Binding

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["equality_tests", "refuse_equality_of_copies"]

# Lookups that find an item by `==`: the receiver is searched for the first argument.
_LOOKUP_METHODS = frozenset(["count", "discard", "get", "index", "remove", "setdefault"])

# A comparison by `==`: the node that makes it, and the two expressions it compares.
_Test = tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression]


class _Items(cst.CSTTransformer):
    def __init__(self, items: Mapping[str, cst.BaseExpression]) -> None:
        self.items = items

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self.items.get(original.value, updated)


def refuse_equality_of_copies(
    t: Context,
    statements: Sequence[cst.BaseStatement],
    expression: cst.BaseExpression | None,
    inputs: Sequence[tuple[str, Binding]],
    originals: Sequence[cst.CSTNode],
) -> None:
    """Report PC619 at each comparison of a node's code that may compare an object whose `==`
    is identity with a copy of itself."""
    kinds = identity_equal_kinds(t)
    if not kinds:
        return  # nothing in the file compares by identity: every `==` keeps its answer
    origin = identity_origin(t)
    own: list[cst.CSTNode] = [*statements, *([expression] if expression is not None else [])]
    tests = [test for node in own for test in equality_tests(node)]
    if not tests:
        return
    given: Mapping[str, Binding] = dict(inputs)
    code = list(statements)
    written = [test for node in originals for test in equality_tests(node)]
    for index, (whole, left, right) in enumerate(tests):
        if _field(left) or _field(right):
            continue
        mine = operand_objects(t, left, code, given, lambda b: may_hold(t, b, origin))
        theirs = operand_objects(t, right, code, given, lambda b: may_hold(t, b, origin))
        if not may_part(t, mine, theirs) and not module_instance_apart(t, left, right, given):
            continue
        location, test = written_at(t, index, whole, written, len(tests), originals)
        t.reporter.report(rules.EQUALITY_OF_COPIES, location, test=test, kinds=kinds)


def _field(expr: cst.BaseExpression) -> bool:
    """A field of an object (`box.name`): taken to be a value with an `==` of its own."""
    return isinstance(expr, cst.Attribute)


def equality_tests(node: cst.CSTNode) -> list[_Test]:
    """The comparisons by `==` in `node`: `a == b`, `a != b`, `a in b`, `a not in b`, `b[a]`,
    and the lookups `b.get(a)`, `b.index(a)`, `b.count(a)`, `b.remove(a)`, ..."""
    found: list[_Test] = []

    class _Tests(cst.CSTVisitor):
        def __init__(self) -> None:
            # For each comprehension around: its variables -> an item of what they loop over.
            self.elements: list[dict[str, cst.BaseExpression]] = []

        def _add(
            self, node: cst.CSTNode, one: cst.BaseExpression, other: cst.BaseExpression
        ) -> None:
            found.append((node, self._element(one), self._element(other)))

        def _element(
            self, expr: cst.BaseExpression, inner: Mapping[str, cst.BaseExpression] | None = None
        ) -> cst.BaseExpression:
            """`expr` with each comprehension variable read as an item of what it loops over
            (`b == box` in `[b for b in rows if b == box]` compares an item of `rows`)."""
            items = {k: v for mapping in self.elements for k, v in mapping.items()}
            items.update(inner or {})
            if not any(name in items for name in names_in(expr)):
                return expr
            replaced = expr.visit(_Items(items))
            assert isinstance(replaced, cst.BaseExpression)
            return replaced

        def _enter(self, loop: cst.CompFor | None) -> None:
            mapping: dict[str, cst.BaseExpression] = {}
            while loop is not None:
                first = cst.SubscriptElement(cst.Index(cst.Integer("0")))
                item = cst.Subscript(self._element(loop.iter, mapping), [first])
                mapping.update((name, item) for name in names_in(loop.target))
                loop = loop.inner_for_in
            self.elements.append(mapping)

        def visit_ListComp(self, node: cst.ListComp) -> None:
            self._enter(node.for_in)

        def leave_ListComp(self, node: cst.ListComp) -> None:
            self.elements.pop()

        def visit_SetComp(self, node: cst.SetComp) -> None:
            self._enter(node.for_in)

        def leave_SetComp(self, node: cst.SetComp) -> None:
            self.elements.pop()

        def visit_DictComp(self, node: cst.DictComp) -> None:
            self._enter(node.for_in)

        def leave_DictComp(self, node: cst.DictComp) -> None:
            self.elements.pop()

        def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
            self._enter(node.for_in)

        def leave_GeneratorExp(self, node: cst.GeneratorExp) -> None:
            self.elements.pop()

        def visit_Comparison(self, comparison: cst.Comparison) -> None:
            left = comparison.left
            for target in comparison.comparisons:
                right = target.comparator
                if isinstance(target.operator, (cst.Equal, cst.NotEqual, cst.In, cst.NotIn)):
                    self._add(comparison, left, right)
                left = right

        def visit_Subscript(self, subscript: cst.Subscript) -> None:
            if len(subscript.slice) == 1 and isinstance(subscript.slice[0].slice, cst.Index):
                self._add(subscript, subscript.slice[0].slice.value, subscript.value)

        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in _LOOKUP_METHODS
                and call.args
                and not call.args[0].star
                and call.args[0].keyword is None
            ):
                self._add(call, call.args[0].value, func.value)

        def visit_FunctionDef(self, function: cst.FunctionDef) -> bool:
            return False  # runs later, if ever, and not with these values

        def visit_Lambda(self, function: cst.Lambda) -> bool:
            return False

    node.visit(_Tests())
    return found
