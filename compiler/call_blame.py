"""The call a refused change in place can be laid at, for the message that refuses it.

When pipec cannot see inside a call (`create_dataloaders(args, train, valid)`,
`trainer.fit(model, loaders)`), it must assume the call may put one of the values it was handed
inside another, or change any of them: in Python the two names may then share an object the
compiled controller copies apart. Naming that call, and the ways out, tells the user what pipec
could not prove, where a generic "built one from the other" does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler.call_effects import CHANGING_ONLY_RECEIVER, READING_FUNCTIONS
from pipec.compiler.syntax import names_in, within
from pipec.compiler.trace_sharing import reading_functions

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["relating_call"]

# Builtins and methods whose effect on their arguments pipec knows: never the call to blame.
_KNOWN_CALLS = frozenset(["list", "dict", "set", "tuple", "frozenset", "sorted", "reversed"])
_KNOWN_METHODS = CHANGING_ONLY_RECEIVER | frozenset(["copy", "items", "keys", "values"])


def relating_call(t: Context, anchor: cst.CSTNode, name: str, other: str) -> cst.Call | None:
    """The last call up to `anchor` (included) that pipec cannot see inside and that was handed
    both `name` and `other` (as arguments, as the object a method is called on, or as the name
    its result is bound to); None when there is none."""
    body = t.controller.function.body
    try:
        anchor_range = t.source.extent(anchor)
        body_range = t.source.extent(body)
    except KeyError:
        return None
    if not within(anchor_range, body_range):
        return None
    finder = _Calls(t, anchor_range, frozenset([name, other]))
    body.visit(finder)
    return finder.found


def _start(extent: CodeRange) -> tuple[int, int]:
    return (extent.start.line, extent.start.column)


def _end(extent: CodeRange) -> tuple[int, int]:
    return (extent.end.line, extent.end.column)


class _Calls(cst.CSTVisitor):
    def __init__(self, t: Context, anchor: CodeRange, wanted: frozenset[str]) -> None:
        self._t = t
        self._anchor = anchor
        self._wanted = wanted
        self._bound: list[set[str]] = []  # names the enclosing assignments bind
        self.found: cst.Call | None = None

    def visit_Assign(self, node: cst.Assign) -> None:
        self._bound.append(set().union(*(names_in(target.target) for target in node.targets)))

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self._bound.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if node not in self._t.source.positions:
            return
        if _start(self._t.source.extent(node)) > _end(self._anchor):
            return
        if not self._unknown(node):
            return
        handed = set().union(*(names_in(argument.value) for argument in node.args))
        if isinstance(node.func, cst.Attribute):
            handed.update(names_in(node.func.value))
        if self._bound:
            handed |= self._bound[-1]
        if self._wanted <= handed:
            self.found = node  # visited in source order: the last one wins

    def _unknown(self, call: cst.Call) -> bool:
        if self._t.component_of(call) is not None:
            return False  # a step gets copies: it cannot relate controller values
        func = call.func
        if isinstance(func, cst.Name):
            known = READING_FUNCTIONS | _KNOWN_CALLS | reading_functions(self._t)
            return func.value not in known
        if isinstance(func, cst.Attribute):
            return func.attr.value not in _KNOWN_METHODS
        return True
