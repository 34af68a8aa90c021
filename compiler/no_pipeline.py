"""What a file without a pipeline function holds instead, so that PC006 says what to build.

Real projects split a pipeline over files: one holds the steps, another the controller, a third
a small launcher that imports the controller and calls it. Building the wrong one is the usual
mistake, and "decorate the controller function" sends the user the wrong way: the refusal names
the imported pipeline the `__main__` block calls, or the steps the file defines.
"""

from __future__ import annotations

import sys

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Location, Reporter
from pipec.compiler.parse import ParsedFile

__all__ = ["report_no_pipeline"]

# Modules whose functions a launcher calls that are never the user's pipeline.
_NEVER_A_PIPELINE = frozenset(sys.stdlib_module_names) | {"clearml", "pipec", "fire", "typer"}

_DECORATE = (
    "decorate the controller function with "
    "@PipelineDecorator.pipeline(name=..., project=..., version=...)"
)


def report_no_pipeline(parsed: ParsedFile, reporter: Reporter) -> None:
    source = parsed.source
    called = _imported_call_under_main(parsed)
    if called is not None:
        call, name, module = called
        reporter.report(
            rules.NO_PIPELINE,
            source.location(call),
            found=f": the `__main__` block calls `{name}`, imported from `{module}`",
            fix=f"if `{name}` is the pipeline, build the file of `{module}` that defines it",
        )
        return
    if parsed.components:
        names = ", ".join(f"`{d.name}`" for d in parsed.components)
        steps = f"the steps {names}" if len(parsed.components) > 1 else f"the step {names}"
        reporter.report(
            rules.NO_PIPELINE,
            Location(source.path, 1, 1),
            found=f"; it defines {steps}, and no function carries @PipelineDecorator.pipeline",
            fix="build the file whose @PipelineDecorator.pipeline function calls "
            f"{'them' if len(parsed.components) > 1 else 'it'}, or {_DECORATE}",
        )
        return
    reporter.report(rules.NO_PIPELINE, Location(source.path, 1, 1), found="", fix=_DECORATE)


def _imported_call_under_main(parsed: ParsedFile) -> tuple[cst.Call, str, str] | None:
    """The first call in the `__main__` block of a name a module-level `from X import` binds."""
    if parsed.main_block is None:
        return None
    imported: dict[str, tuple[str, str]] = {}
    for statement in parsed.source.module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
                continue
            if small.module is None or small.relative:
                continue
            module = cst.Module([]).code_for_node(small.module)
            if module.partition(".")[0] in _NEVER_A_PIPELINE:
                continue
            for alias in small.names:
                bound = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(bound, cst.Name) and isinstance(alias.name, cst.Name):
                    imported[bound.value] = (alias.name.value, module)

    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: tuple[cst.Call, str, str] | None = None

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if self.found is None and isinstance(func, cst.Name) and func.value in imported:
                name, module = imported[func.value]
                self.found = (node, name, module)

    calls = _Calls()
    parsed.main_block.body.visit(calls)
    return calls.found
