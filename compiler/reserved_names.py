"""Module-level names the generated scripts keep for themselves.

Every script pipec writes carries the user's module code and, below it, pipec's step runner,
which defines only `_pipec_*` functions and `_Pipec*` classes so that it shadows nothing the
user wrote. A module-level name of the user's with one of those prefixes would be replaced by
the runner's own definition, so it is refused where it is bound.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule

__all__ = ["RESERVED_PREFIXES", "check_reserved_names"]

RESERVED_PREFIXES = ("_pipec_", "_Pipec")


def check_reserved_names(source: SourceModule, reporter: Reporter) -> None:
    """Report, once each at its first binding, every module-level name with a reserved prefix."""
    first: dict[str, cst.CSTNode] = {}
    for assignment in source.global_scope.assignments:
        node = getattr(assignment, "node", None)
        if not assignment.name.startswith(RESERVED_PREFIXES) or not isinstance(node, cst.CSTNode):
            continue
        if node not in source.positions:
            continue
        known = first.get(assignment.name)
        if known is None or _start(source, node) < _start(source, known):
            first[assignment.name] = node
    for name, node in sorted(first.items(), key=lambda item: _start(source, item[1])):
        prefix = next(p for p in RESERVED_PREFIXES if name.startswith(p))
        suggestion = name[1:].replace("pipec_", "", 1).replace("Pipec", "", 1) or "renamed"
        reporter.report(
            rules.RESERVED_NAME,
            source.location(node),
            name=name,
            prefix=prefix,
            suggestion=suggestion,
        )


def _start(source: SourceModule, node: cst.CSTNode) -> tuple[int, int]:
    where = source.positions[node]
    return (where.start.line, where.start.column)
