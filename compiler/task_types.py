"""`task_type=TaskTypes.training`: a member of ClearML's task-type enum, read without running the file.

ClearML's `Task.TaskTypes` is a fixed enum whose members are named after their values, so
`TaskTypes.data_processing` reached through an import from clearml is known at build time: the
option folds to the member's name. A member the enum lacks stops Python with AttributeError
when it imports the file, so it is an error here.
"""

from __future__ import annotations

import difflib
from typing import Any

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.source import SourceModule

__all__ = ["TASK_TYPES", "fold_task_type"]

# The members of clearml's `Task.TaskTypes` (clearml/backend_interface/task/task.py), each
# named after its value.
TASK_TYPES = (
    "training",
    "testing",
    "inference",
    "data_processing",
    "application",
    "monitor",
    "controller",
    "optimizer",
    "service",
    "qc",
    "custom",
)


def fold_task_type(source: SourceModule, expr: cst.BaseExpression, reporter: Reporter) -> Any:
    """The member's name for `<clearml's TaskTypes>.<member>`; NOT_LITERAL for anything else."""
    if not isinstance(expr, cst.Attribute) or not _is_clearml_task_types(source, expr.value):
        return NOT_LITERAL
    member = expr.attr.value
    if member not in TASK_TYPES:
        close = difflib.get_close_matches(member, TASK_TYPES, n=1, cutoff=0.6)
        reporter.report(
            rules.UNKNOWN_TASK_TYPE,
            source.location(expr.attr),
            member=member,
            suggestion=f"; did you mean `{close[0]}`?" if close else "",
            members=", ".join(TASK_TYPES),
        )
    # An unknown member still names the option's value, so no second warning follows the error.
    return member


def _is_clearml_task_types(source: SourceModule, expr: cst.BaseExpression) -> bool:
    """`TaskTypes` or `Task.TaskTypes` (or any other path to it) imported from clearml."""
    return any(
        name.startswith("clearml.") and name.rsplit(".", 1)[-1] == "TaskTypes"
        for name in source.qualified_names(expr)
    )
