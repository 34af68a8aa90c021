"""Generators in controller code, which a compiled run cannot hand from one process to another.

Python hands a generator on as the very object: a step or later controller code iterates it.
A compiled run pickles every value that crosses to another node, and a generator does not
pickle, so such a build would fail at run time where Python does not. What makes a generator
is known from the code: a generator expression, or a call to a function of the file whose body
has `yield`. Such a value is refused where it would cross: as a step's argument, as the
pipeline's result, or read by controller code after a step call.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.trace_state import Context

__all__ = ["made_generators", "refuse_handed_on", "refuse_generator_read"]


def _generator_functions(t: Context) -> frozenset[str]:
    """Module-level functions whose own body yields (a nested function's `yield` is its own)."""
    if t.generator_functions is None:
        t.generator_functions = frozenset(
            statement.name.value
            for statement in t.source.module.body
            if isinstance(statement, cst.FunctionDef) and _yields(statement.body)
        )
    return t.generator_functions


def _yields(body: cst.CSTNode) -> bool:
    found: list[cst.CSTNode] = []

    class _Yields(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Yield):
                found.append(node)
            return not found and not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))

    body.visit(_Yields())
    return bool(found)


def _makes_generator(t: Context, expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.GeneratorExp):
        return True
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value in _generator_functions(t)
    )


def refuse_handed_on(t: Context, expr: cst.BaseExpression) -> bool:
    """Report `expr` when it makes a generator that would be handed to another node."""
    if not _makes_generator(t, expr):
        return False
    t.reporter.report(rules.GENERATOR_HANDED_ON, t.location(expr), line="")
    return True


def made_generators(
    t: Context,
    statements: Sequence[cst.BaseStatement],
    originals: Sequence[cst.CSTNode],
    node: str,
) -> None:
    """Remember which names the glue `node` leaves bound to a generator it made; report one it
    returns as the pipeline's result."""
    last: dict[str, cst.CSTNode | None] = {}
    for statement, original in zip(statements, originals, strict=True):
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Return) and small.value is not None:
                returned = small.value
                kept = isinstance(returned, cst.Name) and last.get(returned.value) is not None
                if kept or _makes_generator(t, returned):
                    t.reporter.report(
                        rules.GENERATOR_HANDED_ON,
                        t.location(original),
                        line=" as the pipeline's result",
                    )
                continue
            if isinstance(small, cst.Assign):
                targets = [target.target for target in small.targets]
                value: cst.BaseExpression | None = small.value
            elif isinstance(small, cst.AnnAssign):
                targets, value = [small.target], small.value
            else:
                continue
            for target in targets:
                if isinstance(target, cst.Name):
                    made = value is not None and _makes_generator(t, value)
                    last[target.value] = original if made else None
    for name, where in last.items():
        if where is not None:
            t.generator_outputs[(node, name)] = where


def refuse_generator_read(t: Context, node: str, output: str, reader: cst.CSTNode) -> None:
    """Report a read, by a later node, of a generator that the glue `node` made (once)."""
    made = t.generator_outputs.get((node, output))
    if made is not None and (node, output) not in t.generators_reported:
        t.generators_reported.add((node, output))
        line = t.location(reader).line
        t.reporter.report(
            rules.GENERATOR_HANDED_ON,
            t.location(made),
            line=f" (`{output}`, read at line {line} by code that runs in another process)",
        )
