"""Names the `__main__` block assigns and a step reads: module globals when the file runs as a script.

`if __name__ == "__main__": SCALE = 3` then `pipeline()` gives every step a global `SCALE`,
because the block runs at module level. A script can have the same global when the value is
known at build time: the block assigns it once, from a literal or a constant expression,
before it calls the pipeline. Anything else is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import libcst as cst

from pipec.compiler.constants import constant_of
from pipec.compiler.diagnostics import Location
from pipec.compiler.literals import NOT_LITERAL, read_literal
from pipec.compiler.source import SourceModule
from pipec.literals import literal_source

__all__ = ["MainAssignment", "main_assignment"]


@dataclass(frozen=True)
class MainAssignment:
    """The line a script carries for a `__main__` name, or why it cannot carry one."""

    location: Location
    code: str | None  # `NAME = <literal>`, or None when refused
    why: str = ""
    after_call: bool = False  # assigned once, after the pipeline call: no step sees it in Python


def main_assignment(
    source: SourceModule, main: cst.If, name: str, pipelines: Collection[str]
) -> MainAssignment:
    """How the scripts get `name`, which only the `__main__` block at `main` binds."""
    where = source.extent(main)
    bound = (getattr(a, "node", None) for a in source.global_scope.assignments if a.name == name)
    targets = [
        node
        for node in bound
        if isinstance(node, cst.CSTNode)
        and node in source.positions
        and _inside(source, node, where)
    ]
    if not isinstance(main.body, cst.IndentedBlock):
        return MainAssignment(
            source.location(main), None, "on the `if` line itself, among other statements"
        )
    block = list(main.body.body)
    holders = [s for s in block if any(_inside(source, t, source.extent(s)) for t in targets)]
    if len(targets) != 1 or len(holders) != 1:
        return MainAssignment(
            source.location(main),
            None,
            "more than once there, so its value depends on which assignment ran last",
        )
    holder = holders[0]
    location = source.location(holder)
    value = _assigned_value(holder, name)
    if value is None:
        return MainAssignment(location, None, "by a statement other than `NAME = value`")
    calls = [i for i, s in enumerate(block) if _calls_any(source, s, pipelines)]
    if calls and calls[0] < block.index(holder):
        return MainAssignment(
            location,
            None,
            "after the pipeline is called: in Python the steps would not have it either",
            after_call=True,
        )
    if read_literal(source.code(value)) is not NOT_LITERAL:
        return MainAssignment(location, _line(source.code(holder)))
    folded = constant_of(source, value, _earlier_constants(source, block[: block.index(holder)]))
    if folded is NOT_LITERAL:
        return MainAssignment(
            location, None, "from a value known only when the block runs, not at build time"
        )
    return MainAssignment(location, f"{name} = {literal_source(folded)}\n")


def _line(code: str) -> str:
    return code.strip("\n").strip() + "\n"


def _inside(source: SourceModule, node: cst.CSTNode, where: Any) -> bool:
    r = source.positions[node]
    start = (r.start.line, r.start.column)
    end = (r.end.line, r.end.column)
    return (where.start.line, where.start.column) <= start and end <= (
        where.end.line,
        where.end.column,
    )


def _assigned_value(statement: cst.CSTNode, name: str) -> cst.BaseExpression | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign) and small.value is not None:
        target, value = small.target, small.value
    else:
        return None
    return value if isinstance(target, cst.Name) and target.value == name else None


def _calls_any(source: SourceModule, statement: cst.CSTNode, names: Collection[str]) -> bool:
    return any(
        use.name in names and use.scope is source.global_scope
        for use in source.uses_within(source.extent(statement))
    )


def _earlier_constants(source: SourceModule, statements: list[cst.BaseStatement]) -> dict[str, Any]:
    """The block's earlier `NAME = constant` lines, which a later value may use."""
    known: dict[str, Any] = {}
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            continue
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if isinstance(target, cst.Name):
                folded = constant_of(source, small.value, known)
                if folded is not NOT_LITERAL:
                    known[target.value] = folded
    return known
