"""Calls into ClearML's client (`Task.init`, `Logger.current_logger()`, `Dataset.get`, ...).

They compile like any other call, but where a script runs them they talk to a ClearML server:
each call site is a warning (an error with `--strict-clearml`), so nobody finds out at run time.
A call in a function body runs in the script of whatever calls the function. A call in the
file's own top-level code runs where the statement is carried: into the scripts that read a name
it binds (`task = Task.init(...)`); a statement that binds nothing a script reads
(`Task.set_credentials(...)`) is left out of every script, where Python ran it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Location, Reporter
from pipec.compiler.parse import ParsedFile, decorator_kind

__all__ = ["ModuleLevelCall", "report_module_level_calls", "report_server_calls"]


@dataclass(frozen=True)
class ModuleLevelCall:
    """A ClearML call the file's top-level code makes, in the module statement at `index`."""

    index: int
    call: str
    location: Location


def report_server_calls(
    parsed: ParsedFile, reporter: Reporter, *, strict: bool
) -> tuple[ModuleLevelCall, ...]:
    """Report every call of ClearML's client in a function body a script may run: not in the
    decorators, not in or after the `__main__` block. Calls in top-level code are returned, for
    `report_module_level_calls` once the build knows which statements its scripts carry."""
    source = parsed.source
    rule = rules.CLEARML_SERVER_CALL_REFUSED if strict else rules.CLEARML_SERVER_CALL
    module_level: list[ModuleLevelCall] = []

    class _Calls(cst.CSTVisitor):
        """Reports the innermost ClearML call of a chain: `Logger.current_logger()`, not `.report_scalar`."""

        def __init__(self, index: int) -> None:
            self.index = index
            self.reported: list[bool] = []
            self.deferred = 0  # how many function bodies (run only when called) hold the call

        def visit_Decorator(self, node: cst.Decorator) -> bool:
            return decorator_kind(source, node) is None

        def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
            self.deferred += 1

        def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
            self.deferred -= 1

        def visit_Lambda(self, node: cst.Lambda) -> None:
            self.deferred += 1

        def leave_Lambda(self, original_node: cst.Lambda) -> None:
            self.deferred -= 1

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
                where = source.location(original_node)
                if self.deferred:
                    reporter.report(rule, where, call=_short(names[0]), carried="", move="")
                else:
                    module_level.append(ModuleLevelCall(self.index, _short(names[0]), where))
            if (names or inside) and self.reported:
                self.reported[-1] = True

    # The `__main__` block and what follows it run in no script (PC024 says so for the latter).
    end = len(source.module.body) if parsed.main_index is None else parsed.main_index
    for index, statement in enumerate(source.module.body[:end]):
        statement.visit(_Calls(index))
    return tuple(module_level)


def report_module_level_calls(
    calls: tuple[ModuleLevelCall, ...],
    carriers: Mapping[int, Sequence[str]],
    reporter: Reporter,
    *,
    strict: bool,
) -> None:
    """A top-level ClearML call is a server call in each script that carries its statement
    (`carriers`: statement index -> those scripts, described), and is said to be left out where
    none does."""
    rule = rules.CLEARML_SERVER_CALL_REFUSED if strict else rules.CLEARML_SERVER_CALL
    for call in calls:
        scripts = carriers.get(call.index, ())
        if not scripts:
            reporter.report(rules.CLEARML_CALL_LEFT_OUT, call.location, call=call.call)
            continue
        reporter.report(
            rule,
            call.location,
            call=call.call,
            carried=f"; it is module-level code, run again by each script that carries it: "
            f"{_listed(scripts)}",
            move="; in the controller's body instead it runs once, in the controller's code",
        )


def _listed(items: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b, c and 4 more`."""
    shown = list(items[:3])
    if len(items) > len(shown):
        return f"{', '.join(shown)} and {len(items) - len(shown)} more"
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def _short(qualified: str) -> str:
    """`clearml.task.Task.init` -> `Task.init`: the name as users write it."""
    parts = qualified.split(".")
    classes = [i for i, part in enumerate(parts) if part[:1].isupper()]
    return ".".join(parts[classes[0] :]) if classes else qualified
