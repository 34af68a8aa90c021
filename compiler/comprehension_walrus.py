"""`:=` inside a comprehension of the controller, whose name the rest of the controller uses.

Python binds the target of a `:=` in a comprehension in the enclosing function (PEP 572): after
`big = [y for x in xs if (y := f(x))]`, `y` is the controller's and holds the last value. pipec
resolves names with libcst's scopes, which keep that target inside the comprehension, so code
after it would read the name's earlier value (or none). Until the tracer binds it where Python
does, such a `:=` is refused when anything outside the comprehension uses the name.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import COMPREHENSIONS

__all__ = ["check_comprehension_walrus"]


def check_comprehension_walrus(
    source: SourceModule, controller: cst.FunctionDef, reporter: Reporter
) -> None:
    """Report each `:=` in a comprehension whose name is used outside that comprehension."""
    finder = _Finder()
    controller.body.visit(finder)
    for comprehension, walrus, name in finder.found:
        inside = source.positions[comprehension]
        used_outside = any(
            node is not walrus.target and not _within(source.positions[node], inside)
            for node in finder.names.get(name, [])
            if node in source.positions
        )
        if used_outside:
            reporter.report(rules.COMPREHENSION_WALRUS, source.location(walrus), name=name)


def _within(inner: CodeRange, outer: CodeRange) -> bool:
    first = (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column)
    return first and (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)


class _Finder(cst.CSTVisitor):
    """Every name node of the controller, and each `:=` inside an outermost comprehension."""

    def __init__(self) -> None:
        self.names: dict[str, list[cst.Name]] = {}
        self.found: list[tuple[cst.CSTNode, cst.NamedExpr, str]] = []
        self.outermost: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return False
        if isinstance(node, cst.Name):
            self.names.setdefault(node.value, []).append(node)
        if isinstance(node, COMPREHENSIONS):
            self.outermost.append(node)
        if isinstance(node, cst.NamedExpr) and self.outermost and isinstance(node.target, cst.Name):
            self.found.append((self.outermost[0], node, node.target.value))
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.outermost and self.outermost[-1] is original_node:
            self.outermost.pop()
