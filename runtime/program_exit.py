"""The controller's ``sys.exit``: a glue node that ends the pipeline as it ends the Python program.

A glue script whose code raises ``SystemExit`` exits with :data:`GLUE_EXIT_STATUS` and ends
its stderr with one line, ``pipec-system-exit: {...}``, holding the program's exit status and
what Python would print (see ``_pipec_program_exit`` in :mod:`pipec.step_runner`).  The run
then starts nothing more, and ``pipec run`` ends as ``python pipeline.py`` would: the same
exit status, the same text on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.executor import StepResult
from pipec.value_methods import ValueMethods

__all__ = ["GLUE_EXIT_STATUS", "ProgramExit", "program_exit"]

# Written twice, here and in the step runner, which is copied into scripts and never imported.
GLUE_EXIT_STATUS = 7
_MARKER = "pipec-system-exit: "


@dataclass(frozen=True, eq=False, repr=False)
class ProgramExit(ValueMethods):
    """Where and how the controller called ``sys.exit``."""

    node: str  # the glue node (or its instance, in a map body)
    status: int  # the exit status Python gives the code: None 0, an int itself, else 1
    printed: str | None  # what Python prints on stderr before exiting, without the line break
    code: str  # the repr of the object given to sys.exit

    @property
    def succeeded(self) -> bool:
        """Whether the process exit status is 0: the status's low byte, or 255 when CPython
        cannot hold it in a C long long."""
        if not -(2**63) <= self.status < 2**63:
            return False
        return self.status & 0xFF == 0

    @property
    def call(self) -> str:
        return f"sys.exit({self.code})"

    def to_json(self) -> dict[str, object]:
        return {
            "node": self.node,
            "status": self.status,
            "printed": self.printed,
            "code": self.code,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ProgramExit:
        """The record's ``system_exit`` entry; TypeError when a field has the wrong type."""
        node, status, printed, code = (data.get(k) for k in ("node", "status", "printed", "code"))
        if not isinstance(node, str) or not isinstance(code, str):
            raise TypeError("system_exit: node and code must be strings")
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(f"system_exit: status {status!r} is not an integer")
        if printed is not None and not isinstance(printed, str):
            raise TypeError("system_exit: printed must be a string or null")
        return cls(node, status, printed, code)


def program_exit(result: StepResult) -> ProgramExit | None:
    """The controller's exit that ``result`` reports, or None when it reports something else."""
    if result.exit_code != GLUE_EXIT_STATUS:
        return None
    lines = result.stderr_tail.splitlines()
    if not lines or not lines[-1].startswith(_MARKER):
        return None
    try:
        fields = json.loads(lines[-1][len(_MARKER) :])
        return ProgramExit.from_json({"node": result.node, **fields})
    except (ValueError, TypeError):
        return None
