"""Module-level names the controller makes local by assigning them.

`LIMITS += [x]` or `LIMITS = [...]` anywhere in the controller makes `LIMITS` a local variable of
the whole function: Python raises UnboundLocalError where the controller reads it before
assigning it, while a compiled controller would quietly read the module's value. The build
refuses such a read at its line.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.trace_state import Context

__all__ = ["refuse_reads_before_local_assignment"]


def _start(t: Context, node: cst.CSTNode) -> tuple[int, int] | None:
    if node not in t.source.positions:
        return None
    where = t.source.positions[node].start
    return (where.line, where.column)


class _AugmentedTargets(cst.CSTVisitor):
    def __init__(self) -> None:
        self.targets: list[cst.Name] = []

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.targets.append(node.target)


def refuse_reads_before_local_assignment(t: Context) -> None:
    scope = t.controller_scope
    if scope is None:
        return
    parameters = {p.name.value for p in t.controller.function.params.params}
    globals_ = t.source.global_bindings()
    augmented = _AugmentedTargets()
    t.controller.function.body.visit(augmented)
    for name in sorted({a.name for a in scope.assignments}):
        if name in parameters or name in t.components or name not in globals_:
            continue
        nodes = [getattr(a, "node", None) for a in scope.assignments[name]]
        starts = [_start(t, n) for n in nodes if isinstance(n, cst.CSTNode)]
        first = min((s for s in starts if s is not None), default=None)
        if first is None:
            continue
        # `X += 1` reads X before it assigns it.
        reads: list[cst.CSTNode] = [n for n in augmented.targets if n.value == name]
        reads += [a.node for a in scope.accesses[name]]
        early = [n for n in reads if (_start(t, n) or first) <= first and n in t.source.positions]
        if early:
            node = min(early, key=lambda n: _start(t, n) or first)
            t.reporter.report(
                rules.MODULE_NAME_MADE_LOCAL, t.location(node), name=name, lower=name.lower()
            )
