"""Why a step named in `parents=` is not called before the step: told as precisely as the file
allows, since the usual cause is not a typo but a pipeline function defined twice."""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.analyse import Component
from pipec.compiler.trace_state import Context

__all__ = ["report_parent_not_called"]


def report_parent_not_called(t: Context, component: Component, parent: str) -> None:
    where = component.options["parents"].location
    replaced = _replaced_definition_calling(t, parent)
    if replaced is not None:
        t.reporter.report(
            rules.PARENT_CALLED_IN_REPLACED_PIPELINE,
            where,
            parent=parent,
            step=component.function_name,
            pipeline=t.controller.name,
            earlier=replaced,
            last=t.location(t.controller.function).line,
        )
        return
    t.reporter.report(
        rules.PARENT_NOT_CALLED_BEFORE, where, parent=parent, step=component.function_name
    )


def _replaced_definition_calling(t: Context, parent: str) -> int | None:
    """The line of an earlier `def` of the pipeline function that calls step `parent`."""
    functions = {
        name for name, c in t.components.items() if parent in (name, c.step_name, c.function_name)
    }
    for statement in t.source.module.body:
        if (
            isinstance(statement, cst.FunctionDef)
            and statement.name.value == t.controller.name
            and statement is not t.controller.function
            and _calls_any(statement, functions)
        ):
            return t.source.location(statement).line
    return None


def _calls_any(function: cst.FunctionDef, names: set[str]) -> bool:
    found = False

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            found = found or (isinstance(node.func, cst.Name) and node.func.value in names)

    function.body.visit(_Calls())
    return found
