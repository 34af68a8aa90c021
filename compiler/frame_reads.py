"""Controller code that reads the namespace it runs in: `locals()`, `vars()`, `dir()`, `globals()`.

In Python these list the controller's own variables (or the module's). A compiled run runs each
block of controller code in a function of its own, in a script of its own, that holds only the
values the block reads and writes, beside pipec's runner: the answer would differ. They are
refused at the call, except `locals()` and `vars()` in the controller's first statement
(`params = PipelineParams(**locals())`): there the namespace is the controller's parameters, and
the tracer gives the block that dict itself (`parameter_locals`).
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import contains, is_docstring

__all__ = ["check_frame_reads", "parameter_locals", "parameter_names"]

# Builtins whose answer, called without arguments, is the namespace they are called in.
_NAMESPACE_READERS = frozenset({"locals", "vars", "dir", "globals"})


def check_frame_reads(
    source: SourceModule, controller: cst.FunctionDef, reporter: Reporter
) -> None:
    """Report each argument-less call of a namespace-reading builtin in the controller."""
    builtins = {
        use.node
        for use in source.uses_within(source.positions[controller.body])
        if use.builtin and use.name in _NAMESPACE_READERS
    }
    found: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            # `vars(obj)` and `dir(obj)` read the object; `globals()` takes no argument.
            if (
                isinstance(func, cst.Name)
                and func in builtins
                and (not call.args or func.value == "globals")
            ):
                found.append(call)

    controller.body.visit(_Calls())
    allowed = parameter_locals(source, controller)
    for call in found:
        if call in allowed:
            continue
        reporter.report(rules.NAMESPACE_READ, source.location(call), call=source.code(call).strip())


def parameter_locals(source: SourceModule, controller: cst.FunctionDef) -> list[cst.Call]:
    """The `locals()` and `vars()` calls of the controller's first statement (after a
    docstring), a simple one with no `:=`, made in the controller's own scope: each is the dict
    of the controller's parameters."""
    body = controller.body.body
    first = next(
        (
            statement
            for statement in body
            if not (
                isinstance(statement, cst.SimpleStatementLine)
                and len(statement.body) == 1
                and is_docstring(statement.body[0])
            )
        ),
        None,
    )
    if not isinstance(first, cst.SimpleStatementLine) or contains(first, cst.NamedExpr):
        return []
    scope = source.scopes.get(controller.body)
    builtins = {
        use.node
        for use in source.uses_within(source.positions[first])
        if use.builtin and use.name in ("locals", "vars")
    }
    found: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if func in builtins and not call.args and source.scopes.get(call) is scope:
                found.append(call)

    first.visit(_Calls())
    return found


def parameter_names(controller: cst.FunctionDef) -> list[str]:
    """The controller's parameters in the order `locals()` lists them."""
    params = controller.params
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    if isinstance(params.star_arg, cst.Param):
        names.append(params.star_arg.name.value)
    if params.star_kwarg is not None:
        names.append(params.star_kwarg.name.value)
    return names
