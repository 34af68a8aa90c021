"""Checks that what the build accepts can also run: names the manifest can carry, results a
step's process can hand on."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import replace

from pipec.compiler import rules
from pipec.compiler.analyse import Component
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.pipeline import PipelineInfo
from pipec.manifest import Location

__all__ = ["check_portable"]


def check_portable(
    info: PipelineInfo,
    components: Mapping[str, Component],
    used: set[str],
    location: Location,
    reporter: Reporter,
) -> None:
    """Report step and parameter names a manifest cannot carry, and generator steps."""
    for parameter in info.parameters:
        if not parameter.name.isascii():
            reporter.report(
                rules.NON_ASCII_NAME, location, what="pipeline parameter", name=parameter.name
            )
    for name in sorted(used):
        component = components[name]
        if not component.step_name.isascii():
            reporter.report(
                rules.NON_ASCII_NAME, component.location, what="step", name=component.step_name
            )
        if _is_generator(component.code):
            reporter.report(rules.GENERATOR_STEP, component.location, step=name)
        for offset, column in _generator_returns(component.code):
            where = replace(
                component.location, line=component.location.line + offset, column=column
            )
            reporter.report(rules.GENERATOR_RETURNED, where, step=name)


def _generator_returns(code: str) -> Iterator[tuple[int, int]]:
    """Lines (counted from the `def`) and columns of the function's `return (... for ...)` statements,
    bare or as an element of the tuple a multi-output step returns."""
    functions = _functions(code)
    if not functions:
        return
    pending: list[ast.AST] = list(functions[0].body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            value = node.value
            parts = value.elts if isinstance(value, ast.Tuple) else [value]
            if any(isinstance(part, ast.GeneratorExp) for part in parts):
                yield node.lineno - functions[0].lineno, node.col_offset + 1
        pending.extend(ast.iter_child_nodes(node))


def _functions(code: str) -> list[ast.FunctionDef]:
    try:
        module = ast.parse(code)
    except SyntaxError:
        return []
    return [n for n in module.body if isinstance(n, ast.FunctionDef)]


def _is_generator(code: str) -> bool:
    """Whether the function in `code` yields (its nested functions and classes aside)."""
    functions = _functions(code)
    if not functions:
        return False
    pending: list[ast.AST] = list(functions[0].body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return False
