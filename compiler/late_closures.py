"""Lambdas in the controller that read a name the controller binds again later.

A lambda reads the names of its enclosing function when it is called, not when it is made: after
`f = lambda v: v * k` and `k = 5`, Python's `f(1)` is 5. A compiled run hands the lambda from
one process to another pickled, with each name it reads fixed at the value it had where the
lambda was made (constants are even folded in at build time), so a later binding of the name
never reaches it. Such a lambda is refused, unless the call it is given to uses it at once and
keeps nothing of it (the `key=` of `sorted`, `min`, `max` and `.sort`).
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, Scope

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule

__all__ = ["check_late_closures"]

_USED_AT_ONCE = frozenset({"sorted", "min", "max", "sort"})


def check_late_closures(
    source: SourceModule, controller: cst.FunctionDef, reporter: Reporter
) -> None:
    """Report each kept lambda of the controller that reads a name bound again after it."""
    scope = source.scopes.get(controller.body)
    if scope is None:
        return
    finder = _LambdaFinder()
    controller.body.visit(finder)
    for lam, loops in finder.found:
        body = source.positions[lam.body]
        for name in dict.fromkeys(
            use.name for use in source.uses_within(body) if use.scope is scope
        ):
            later = _later_binding(source, scope, name, lam, loops, finder.branches)
            if later is not None:
                reporter.report(
                    rules.LATE_BOUND_LAMBDA, source.location(lam), name=name, line=later
                )
                break


def _later_binding(
    source: SourceModule,
    scope: Scope,
    name: str,
    lam: cst.Lambda,
    loops: tuple[cst.For, ...],
    branches: list[list[cst.CSTNode]],
) -> int | None:
    """The line of a binding of `name` that may run after the lambda is made, if there is one."""
    made = source.positions[lam]
    lines: list[int] = []
    around = [source.positions[loop] for loop in loops]
    for assignment in scope.assignments[name]:
        node = getattr(assignment, "node", None)
        if node is None or node not in source.positions:
            continue
        where = source.positions[node]
        after = (where.start.line, where.start.column) > (made.end.line, made.end.column)
        # A binding in a loop around the lambda runs again after it, on the next turn; one in
        # another branch of an `if` or `match` than the lambda's never runs after it.
        if any(_inside(where, loop) for loop in around) or (
            after and not _exclusive(source, made, where, branches)
        ):
            lines.append(where.start.line)
    return min(lines, default=None)


def _exclusive(
    source: SourceModule, one: CodeRange, other: CodeRange, branches: list[list[cst.CSTNode]]
) -> bool:
    """Whether `one` and `other` lie in different branches of one `if` or `match`."""
    for blocks in branches:
        ranges = [source.positions[block] for block in blocks if block in source.positions]
        holding = [i for i, r in enumerate(ranges) if _inside(one, r)]
        held = [i for i, r in enumerate(ranges) if _inside(other, r)]
        if holding and held and holding != held:
            return True
    return False


def _inside(inner: CodeRange, outer: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line,
        inner.end.column,
    ) <= (outer.end.line, outer.end.column)


class _LambdaFinder(cst.CSTVisitor):
    """The controller's lambdas that may be kept, each with the `for` loops around it."""

    def __init__(self) -> None:
        self.loops: list[cst.For] = []
        self.stack: list[cst.CSTNode] = []
        self.found: list[tuple[cst.Lambda, tuple[cst.For, ...]]] = []
        self.branches: list[list[cst.CSTNode]] = []  # the blocks of each `if` and `match`

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return False  # refused in a controller, with rules of their own
        if isinstance(node, cst.Lambda):
            if not self._used_at_once(node):
                self.found.append((node, tuple(self.loops)))
            return False  # a lambda inside it is made only when it runs
        if isinstance(node, cst.For):
            self.loops.append(node)
        if isinstance(node, cst.If):
            self.branches.append([node.body, *([node.orelse] if node.orelse else [])])
        if isinstance(node, cst.Match):
            self.branches.append(list(node.cases))
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.stack and self.stack[-1] is original_node:
            self.stack.pop()
        if self.loops and self.loops[-1] is original_node:
            self.loops.pop()

    def _used_at_once(self, lam: cst.Lambda) -> bool:
        if len(self.stack) < 2:
            return False
        arg, call = self.stack[-1], self.stack[-2]
        if not isinstance(arg, cst.Arg) or not isinstance(call, cst.Call):
            return False
        if arg.keyword is None or arg.keyword.value != "key":
            return False
        func = call.func
        name = func.value if isinstance(func, cst.Name) else None
        if isinstance(func, cst.Attribute):
            name = func.attr.value
        return name in _USED_AT_ONCE
