"""Module-level names a step rebinds with `global`, where the new value would be missed.

The eager drop-in runs every step in the controller's process, so `global COUNT; COUNT += x`
in a step changes what a second call of it, a later step or the controller's code then reads.
A compiled step runs in a process of its own: the change dies with it. A step that rebinds a
global is refused when something outside that one call may read the name: another call of the
step (twice in the controller, or in a loop over a run-time value), or code outside the step's
function.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.analyse import Component
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.ir import StepNode, Trace
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import within

__all__ = ["check_step_globals"]


def check_step_globals(
    source: SourceModule,
    components: Mapping[str, Component],
    trace: Trace,
    reporter: Reporter,
) -> None:
    """Report each `global NAME` of a called step whose new value something else would read."""
    calls: Counter[str] = Counter()
    for node in trace.nodes:
        if isinstance(node, StepNode):
            calls[node.component] += 2 if node.map is not None else 1
    for step in sorted(calls):
        function = _function_named(source, components[step].function_name)
        if function is None:
            continue
        extent = source.extent(function)
        for statement, name in _global_declarations(function):
            if not _assigned_within(source, name, extent):
                continue
            if calls[step] > 1:
                reader = "the step is called more than once"
            else:
                line = _read_outside(source, name, extent)
                if line is None:
                    continue
                reader = f"code outside the step reads it (line {line})"
            reporter.report(
                rules.STEP_REBINDS_GLOBAL,
                source.location(statement),
                step=step,
                name=name,
                reader=reader,
            )


def _function_named(source: SourceModule, name: str) -> cst.FunctionDef | None:
    return next(
        (s for s in source.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name),
        None,
    )


def _global_declarations(function: cst.FunctionDef) -> list[tuple[cst.Global, str]]:
    """The function's own `global` statements (nested functions and classes have their own)."""
    found: list[tuple[cst.Global, str]] = []

    class _Finder(cst.CSTVisitor):
        def visit_Global(self, node: cst.Global) -> None:
            found.extend((node, item.name.value) for item in node.names)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    function.visit(_Finder())
    return found


def _assigned_within(source: SourceModule, name: str, extent: CodeRange) -> bool:
    for assignment in source.global_scope.assignments[name]:
        node = getattr(assignment, "node", None)
        if (
            isinstance(node, cst.CSTNode)
            and node in source.positions
            and within(source.positions[node], extent)
        ):
            return True
    return False


def _read_outside(source: SourceModule, name: str, extent: CodeRange) -> int | None:
    """The first line outside the step that reads the module-level `name`, if any."""
    for use in source.uses:
        if use.name != name or use.scope is not source.global_scope:
            continue
        if not within(use.range, extent):
            return use.range.start.line
    return None
