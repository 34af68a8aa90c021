"""Controller code that reads the namespace it runs in: `locals()`, `vars()`, `dir()`, `globals()`.

In Python these list the controller's own variables (or the module's). A compiled run runs each
block of controller code in a function of its own, in a script of its own, that holds only the
values the block reads and writes, beside pipec's runner: the answer would differ. They are
refused at the call.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule

__all__ = ["check_frame_reads"]

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
    for call in found:
        reporter.report(rules.NAMESPACE_READ, source.location(call), call=source.code(call).strip())
