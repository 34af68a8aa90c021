"""Whether controller code may read a name again after a given statement.

A change in place that the compiled controller would not carry over to a second name only
matters if that name is read afterwards: `args = load(path); use(args)` changes `args` after
`path` is last read, so no run can tell the difference. The answer errs towards "read": a read
inside a loop that also holds the statement counts, as does a read inside any function, lambda
or class defined in the controller (it may run later), and any use of a builtin that can read
every local (`locals()`, `vars()`, `eval`, `exec`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler.syntax import within

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["may_read_after"]

_READS_EVERY_LOCAL = frozenset({"locals", "vars", "eval", "exec"})


def may_read_after(t: Context, anchor: cst.CSTNode, name: str) -> bool:
    """Whether the controller may read `name` after the statement `anchor` has run."""
    body = t.controller.function.body
    try:
        body_range = t.source.extent(body)
        anchor_range = t.source.extent(anchor)
    except KeyError:
        return True  # a node the tracer made: no position to reason from
    if not within(anchor_range, body_range):
        return True  # code of an inlined helper: its reads are not in the controller's text
    shape = _Shape(t, anchor_range)
    body.visit(shape)
    resumes = min(shape.loops, key=_start, default=anchor_range)
    for use in t.source.uses_within(body_range):
        if use.name in _READS_EVERY_LOCAL and use.builtin and use.range not in shape.one_value:
            return True
        if use.name != name:
            continue
        if any(within(use.range, deferred) for deferred in shape.deferred):
            return True
        # A read within the statement itself counts: a call may change one argument and then
        # read another.
        if _start(use.range) >= _start(resumes):
            return True
    return False


def _start(extent: CodeRange) -> tuple[int, int]:
    return (extent.start.line, extent.start.column)


class _Shape(cst.CSTVisitor):
    """The loops of the controller that hold the statement (all of each may run again), and
    the bodies of the functions, lambdas and classes it defines (they may run at any time)."""

    def __init__(self, t: Context, anchor: CodeRange) -> None:
        self._t = t
        self._anchor = anchor
        self.loops: list[CodeRange] = []
        self.deferred: list[CodeRange] = []
        # `vars(args)` reads the one object it is given, not the locals `vars()` returns.
        self.one_value: list[CodeRange] = []

    def visit_For(self, node: cst.For) -> None:
        self._loop(node)

    def visit_While(self, node: cst.While) -> None:
        self._loop(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name) and func.value == "vars" and node.args:
            self.one_value.append(self._t.source.extent(func))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.deferred.append(self._t.source.extent(node))

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.deferred.append(self._t.source.extent(node))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.deferred.append(self._t.source.extent(node))

    def _loop(self, node: cst.CSTNode) -> None:
        extent = self._t.source.extent(node)
        if within(self._anchor, extent):
            self.loops.append(extent)
