"""Generator expressions in the controller whose step calls Python would run lazily.

pipec traces `(step(x) for x in xs)` as it traces `[step(x) for x in xs]`: every call becomes a
node and runs. Python runs the calls one at a time, as the consumer asks: `any(...)`, `all(...)`
and `next(...)` stop early, and a generator kept in a name runs nothing until it is read. Only a
consumer that always takes every value (`list(...)`, `sum(...)`, `print(*...)`, ...) gives the
same calls in the same order; anything else is refused at the generator.
"""

from __future__ import annotations

from collections.abc import Collection

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule

__all__ = ["check_generator_controller", "check_lazy_generators"]

# Builtins that take every value of the iterable they are given, whatever the values are.
_EXHAUSTING = frozenset(
    {"list", "tuple", "set", "frozenset", "sorted", "sum", "min", "max", "dict"}
)
_STOPPING_EARLY = frozenset({"any", "all", "next"})


def check_lazy_generators(
    source: SourceModule,
    controller: cst.FunctionDef,
    steps: Collection[str],
    reporter: Reporter,
) -> None:
    """Report each generator expression with a step call that its consumer may not exhaust."""
    finder = _GeneratorFinder(steps)
    controller.body.visit(finder)
    for generator, parent, step in finder.found:
        consumer = _consumer(parent, generator)
        if consumer is None:
            continue
        stops = (
            " and stops at the first value that decides it"
            if consumer
            in (
                "`any(...)`",
                "`all(...)`",
            )
            else ""
        )
        reporter.report(
            rules.LAZY_STEP_GENERATOR,
            source.location(generator),
            step=step,
            consumer=consumer,
            stops=stops,
        )


class _GeneratorFinder(cst.CSTVisitor):
    """Each generator expression that calls a step, with the node that holds it."""

    def __init__(self, steps: Collection[str]) -> None:
        self.steps = steps
        self.stack: list[cst.CSTNode] = []
        # (the generator, the call it is an argument of or None, its `*` if unpacked, the step)
        self.found: list[tuple[cst.GeneratorExp, cst.CSTNode | None, str]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.GeneratorExp):
            step = _first_step(node, self.steps)
            if step is not None:
                holder = self.stack[-1] if self.stack else None
                if isinstance(holder, cst.Arg) and len(self.stack) > 1:
                    holder = holder if holder.star == "*" else self.stack[-2]
                self.found.append((node, holder, step))
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return False
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.stack and self.stack[-1] is original_node:
            self.stack.pop()


def _first_step(node: cst.CSTNode, steps: Collection[str]) -> str | None:
    found: list[str] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Name) and call.func.value in steps and not found:
                found.append(call.func.value)

    node.visit(_Calls())
    return found[0] if found else None


def _consumer(holder: cst.CSTNode | None, generator: cst.GeneratorExp) -> str | None:
    """How the generator is consumed, said for a message; None when every value is taken."""
    if isinstance(holder, cst.Arg):
        return None  # `print(*(...))` unpacks every value before the call
    first = holder.args[0] if isinstance(holder, cst.Call) and holder.args else None
    if isinstance(holder, cst.Call) and first is not None and first.value is generator:
        func = holder.func
        if isinstance(func, cst.Name) and func.value in _EXHAUSTING:
            return None
        if isinstance(func, cst.Attribute) and func.attr.value == "join":
            return None
        if isinstance(func, cst.Name) and func.value in _STOPPING_EARLY:
            return f"`{func.value}(...)`"
    if isinstance(holder, cst.Call):
        return "the function it is passed to"
    return "the code that reads it"


def check_generator_controller(
    source: SourceModule, controller: cst.FunctionDef, reporter: Reporter
) -> None:
    """Report a controller with `yield` of its own: Python would run nothing of it."""
    found: list[cst.CSTNode] = []

    class _Yields(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if isinstance(node, cst.Yield):
                found.append(node)
            return not isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda))

    controller.body.visit(_Yields())
    if found:
        reporter.report(
            rules.GENERATOR_CONTROLLER, source.location(found[0]), function=controller.name.value
        )
