"""Calls into ClearML's client (`Task.init`, `Logger.current_logger()`, `Dataset.get`, ...).

They compile like any other call, but where a script runs them they talk to a ClearML server:
each call site is a warning (an error with `--strict-clearml`), so nobody finds out at run time.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.parse import ParsedFile, decorator_kind

__all__ = ["report_server_calls"]


def report_server_calls(parsed: ParsedFile, reporter: Reporter, *, strict: bool) -> None:
    """Report every call of ClearML's client a script runs: not in the decorators, not in or after
    the `__main__` block."""
    source = parsed.source
    rule = rules.CLEARML_SERVER_CALL_REFUSED if strict else rules.CLEARML_SERVER_CALL

    class _Calls(cst.CSTVisitor):
        """Reports the innermost ClearML call of a chain: `Logger.current_logger()`, not `.report_scalar`."""

        def __init__(self) -> None:
            self.reported: list[bool] = []

        def visit_Decorator(self, node: cst.Decorator) -> bool:
            return decorator_kind(source, node) is None

        def visit_Call(self, node: cst.Call) -> None:
            self.reported.append(False)

        def leave_Call(self, original_node: cst.Call) -> None:
            inside = self.reported.pop()
            names = sorted(
                n
                for n in source.qualified_names(original_node.func)
                if n.startswith("clearml.") and ".PipelineDecorator" not in n
            )
            if names and not inside:
                reporter.report(rule, source.location(original_node), call=_short(names[0]))
            if (names or inside) and self.reported:
                self.reported[-1] = True

    # The `__main__` block and what follows it run in no script (PC024 says so for the latter).
    end = len(source.module.body) if parsed.main_index is None else parsed.main_index
    for statement in source.module.body[:end]:
        statement.visit(_Calls())


def _short(qualified: str) -> str:
    """`clearml.task.Task.init` -> `Task.init`: the name as users write it."""
    parts = qualified.split(".")
    classes = [i for i, part in enumerate(parts) if part[:1].isupper()]
    return ".".join(parts[classes[0] :]) if classes else qualified
