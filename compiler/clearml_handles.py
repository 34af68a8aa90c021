"""Controller names that hold a ClearML client object (a Task, a Logger, a Dataset).

`task = Task.create(...)`, `logger = task.get_logger()` in the controller, then `task.logger...`
and `logger.report_scalar(...)` on both sides of a step call: in Python both names reach one
Task talking to the server. The compiled controller runs each block of controller code in a
process of its own and hands values on pickled, so each block would get a copy of its own. The
sharing analysis refuses that, but its generic "may hold the same object" hides the true cause:
a server handle that lives in controller code across step calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.syntax import names_in

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["clearml_origin"]


def clearml_origin(t: Context, name: str) -> cst.Call | None:
    """The ClearML client call a controller name's value comes from (`Task.create(...)` for
    `logger = task.get_logger()` too), if every assignment of the name builds it from one."""
    assignments = _assignments(t.controller.function.body)
    return _origin(t, name, assignments, set())


def _origin(
    t: Context,
    name: str,
    assignments: dict[str, list[cst.BaseExpression]],
    seen: set[str],
) -> cst.Call | None:
    if name in seen:
        return None
    seen.add(name)
    for value in assignments.get(name, []):
        call = _clearml_call(t, value)
        if call is not None:
            return call
        root = _receiver_root(value)
        if root is not None and root != name:
            found = _origin(t, root, assignments, seen)
            if found is not None:
                return found
    return None


def _clearml_call(t: Context, value: cst.BaseExpression) -> cst.Call | None:
    """The first call of ClearML's client within `value` (`Task.create(...)`)."""

    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: cst.Call | None = None

        def visit_Call(self, node: cst.Call) -> None:
            if self.found is None and any(
                q.startswith("clearml.") and ".PipelineDecorator" not in q
                for q in t.source.qualified_names(node.func)
            ):
                self.found = node

    finder = _Calls()
    value.visit(finder)
    return finder.found


def _receiver_root(value: cst.BaseExpression) -> str | None:
    """`task` for `task.get_logger()` or `task.logger`: the name a value is taken from."""
    while isinstance(value, (cst.Call, cst.Attribute, cst.Subscript)):
        value = value.func if isinstance(value, cst.Call) else value.value
    return value.value if isinstance(value, cst.Name) else None


def _assignments(body: cst.CSTNode) -> dict[str, list[cst.BaseExpression]]:
    """Each controller name bound by a plain `name = value` -> its values."""

    class _Assigns(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: dict[str, list[cst.BaseExpression]] = {}

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.found.setdefault(target.target.value, []).append(node.value)
                else:
                    for name in names_in(target.target):
                        self.found.setdefault(name, [])

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    finder = _Assigns()
    body.visit(finder)
    return finder.found
