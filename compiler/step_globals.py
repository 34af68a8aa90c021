"""Module-level values a step changes, where the change would be missed.

The eager drop-in runs every step in the controller's process, so a step that rebinds a global
(`global COUNT; COUNT += x`) or changes a module-level value in place (`HISTORY.append(x)`,
`Counter.total += x`, `CONFIG["lr"] = x`) changes what a second call of it, a later step or
the controller's code then reads. A compiled step runs in a process of its own: the change dies
with it. Such a step is refused when something outside that one call may read the value: another
call of the step (twice in the controller, or in a loop over a run-time value), or code outside
the step's function. Imported modules are left alone: what a step does to `os.environ` or a
library's settings is the step's business.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import libcst as cst
from libcst.metadata import CodeRange, ImportAssignment

from pipec.compiler import rules
from pipec.compiler.analyse import Component
from pipec.compiler.call_effects import changed_places
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.ir import StepNode, Trace
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import quoted_code, within

__all__ = ["check_step_globals"]


def check_step_globals(
    source: SourceModule,
    components: Mapping[str, Component],
    trace: Trace,
    reporter: Reporter,
) -> None:
    """Report each change a called step makes to a module-level value something else would read."""
    calls: Counter[str] = Counter()
    for node in trace.nodes:
        if isinstance(node, StepNode):
            calls[node.component] += 2 if node.map is not None else 1
    for step in sorted(calls):
        function = _function_named(source, components[step].function_name)
        if function is None:
            continue
        extent = source.extent(function)
        reported: set[str] = set()
        for anchor, name, change in _changes(source, function, extent):
            if name in reported or _imported(source, name):
                continue
            if calls[step] > 1:
                reader = "the step is called more than once"
            else:
                line = _read_outside(source, name, extent)
                if line is None:
                    continue
                reader = f"code outside the step reads `{name}` (line {line})"
            reported.add(name)
            reporter.report(
                rules.STEP_CHANGES_MODULE_VALUE,
                source.location(anchor),
                step=step,
                change=change,
                reader=reader,
            )


def _function_named(source: SourceModule, name: str) -> cst.FunctionDef | None:
    return next(
        (s for s in source.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name),
        None,
    )


def _changes(
    source: SourceModule, function: cst.FunctionDef, extent: CodeRange
) -> Iterator[tuple[cst.CSTNode, str, str]]:
    """(where, module-level name, what the step does to it), in source order."""
    module_reads = {
        use.node for use in source.uses_within(extent) if use.scope is source.global_scope
    }
    for statement in _own_statements(function):
        if isinstance(statement, cst.Global):
            for item in statement.names:
                name = item.name.value
                if _assigned_within(source, name, extent):
                    yield statement, name, f"assigns the module-level `{name}` (`global {name}`)"
            continue
        for base in _changed_in_place(statement):
            if base in module_reads:
                code = quoted_code(source.code(statement))
                yield statement, base.value, f"changes the module-level `{base.value}` (`{code}`)"


def _own_statements(function: cst.FunctionDef) -> list[cst.BaseSmallStatement]:
    """The function's small statements, less those of nested functions, classes and lambdas."""
    found: list[cst.BaseSmallStatement] = []

    class _Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return node is function
            if isinstance(node, cst.BaseSmallStatement):
                found.append(node)
            return True

    function.visit(_Finder())
    return found


def _changed_in_place(small: cst.BaseSmallStatement) -> list[cst.Name]:
    """The names whose value `x[k] = v`, `x.a += v`, `del x[k]` or `x.append(v)` changes."""
    targets, receivers = changed_places(small)
    bases: list[cst.Name] = []
    for target in targets:
        base = target
        while isinstance(base, (cst.Subscript, cst.Attribute)):
            base = base.value
        if isinstance(base, cst.Name) and base is not target:
            bases.append(base)
    for receiver in receivers:
        while isinstance(receiver, (cst.Subscript, cst.Attribute)):
            receiver = receiver.value
        if isinstance(receiver, cst.Name):
            bases.append(receiver)
    return bases


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


def _imported(source: SourceModule, name: str) -> bool:
    return any(isinstance(a, ImportAssignment) for a in source.global_scope.assignments[name])


def _read_outside(source: SourceModule, name: str, extent: CodeRange) -> int | None:
    """The first line outside the step that reads the module-level `name`, if any."""
    for use in source.uses:
        if use.name != name or use.scope is not source.global_scope:
            continue
        if not within(use.range, extent):
            return use.range.start.line
    return None
