"""An `id(...)` taken in one block of controller code and compared in a later one.

`i = id(xs)`, a step call, then `id(xs) == i`: in Python `xs` is the same object all along, so
its id is too. In a compiled run each node reads its inputs as new objects (and each process
has ids of its own), so an id kept from an earlier node never matches an id taken now. Such a
comparison is refused at its line (PC620); ids taken and compared in one node keep working.
`hash(...)` is held to the same rule: an object's default hash comes from its id, and a
string's is salted afresh in each process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.equality_copies import equality_tests
from pipec.compiler.identity_copies import written_at
from pipec.compiler.syntax import names_in
from pipec.compiler.value_origins import Origin, may_hold
from pipec.manifest import Binding

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["refuse_ids_across_nodes"]


def refuse_ids_across_nodes(
    t: Context,
    statements: Sequence[cst.BaseStatement],
    expression: cst.BaseExpression | None,
    inputs: Sequence[tuple[str, Binding]],
    originals: Sequence[cst.CSTNode],
) -> None:
    """Report PC620 at each comparison of a node's code between an id an earlier node kept and
    an id taken here (`id(xs) == i`, `id(x) in seen`, `seen[id(x)]`)."""
    kept = {name for name, binding in inputs if may_hold(t, binding, _IDS)}
    if not kept:
        return
    own: list[cst.CSTNode] = [*statements, *([expression] if expression is not None else [])]
    tests = [test for node in own for test in equality_tests(node)]
    written = [test for node in originals for test in equality_tests(node)]
    for index, (whole, left, right) in enumerate(tests):
        for stored, taken in ((left, right), (right, left)):
            name = next((n for n in names_in(stored) if n in kept), None)
            if name is None or not _takes_id(taken):
                continue
            location, test = written_at(t, index, whole, written, len(tests), originals)
            t.reporter.report(rules.ID_ACROSS_STEP_CALL, location, test=test, name=name)
            break


def _takes_id(expr: cst.CSTNode) -> bool:
    """Whether `expr` calls `id(...)` or `hash(...)`."""
    return any(
        isinstance(call.func, cst.Name) and call.func.value in ("id", "hash")
        for call in _calls(expr)
    )


def _calls(node: cst.CSTNode) -> Iterator[cst.Call]:
    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[cst.Call] = []

        def visit_Call(self, call: cst.Call) -> None:
            self.found.append(call)

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    finder = _Calls()
    node.visit(finder)
    yield from finder.found


# Only controller code takes ids; a step's output holds one only if it was given one.
_IDS = Origin("id", _takes_id, lambda _: False, number=True)
