"""Module-level values a step changes, where the change would be missed.

The eager drop-in runs every step in the controller's process, so a step that rebinds a global
(`global COUNT; COUNT += x`) or changes a module-level value in place (`HISTORY.append(x)`,
`Counter.total += x`, `CONFIG["lr"] = x`) changes what a second call of it, a later step or
the controller's code then reads. A compiled step runs in a process of its own: the change dies
with it. Such a step is refused when something outside that one call may read the value: another
call of the step (twice in the controller, or in a loop over a run-time value), or code outside
the step's function: the controller, another step, top-level code that may run after it (the
`__main__` block), or a function of the file or of a local module any of them may run
(`print(seen_count())`). What the step changes through the functions it runs counts as its own (`note(v)` where `note` does `SEEN.append(v)`, a method on a
module-level instance, `mylib.register(x)` of a local module beside the pipeline);
compiler/code_reach.py says which functions those are. Library modules are left alone: what a
step does to `os.environ` or a library's settings is the step's business, and a library's source
is not the build's to read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.analyse import Component
from pipec.compiler.code_reach import Function, Program, Region, Unit
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.ir import StepNode, Trace
from pipec.compiler.local_modules import LocalModule
from pipec.compiler.source import SourceModule
from pipec.compiler.value_changes import SELF, Change, changes_of

__all__ = ["check_step_globals"]


def check_step_globals(
    source: SourceModule,
    components: Mapping[str, Component],
    trace: Trace,
    controller: cst.FunctionDef,
    local_module: Callable[[str], LocalModule | None],
    reporter: Reporter,
) -> None:
    """Report each change a called step makes to a module-level value something else would read."""
    calls: Counter[str] = Counter()
    for node in trace.nodes:
        if isinstance(node, StepNode):
            calls[node.component] += 2 if node.map is not None else 1
    program = Program(source, local_module)
    steps = {
        name: function
        for name, component in components.items()
        if (function := _function_named(source, component.function_name)) is not None
    }
    for step in sorted(calls):
        if step not in steps:
            continue
        function = steps[step]
        own = program.function(program.main, function, None)
        found: list[tuple[cst.CSTNode, Unit, str, str]] = [
            (c.anchor, c.unit, c.name, _own_change(c))
            for c in changes_of(program, own, own_only=True)
        ]
        start = Region(program.main, function, own, step)
        for target, chain, begins, _, held in _reached(program, [start], {id(function)}):
            for change in changes_of(program, target, own_only=False):
                unit, name = change.unit, change.name
                if name == SELF:
                    if held is None:
                        continue
                    unit, name = target.unit, held
                where = _line_of(target.unit, change.anchor, program.main)
                label = unit.label(name)
                if change.passed_to is not None:
                    chain = (*chain, change.passed_to)
                how = f"through {_chain(chain)} (`{change.code}`, {where})"
                found.append((begins, unit, name, f"changes the module-level `{label}` {how}"))
        readers: _Readers | None = None
        reported: set[tuple[int, str]] = set()
        for anchor, unit, name, change_text in found:
            if (id(unit), name) in reported:
                continue
            if calls[step] > 1:
                reader = "the step is called more than once"
            else:
                if readers is None:
                    others = [steps[s] for s in sorted(calls) if s != step and s in steps]
                    readers = _Readers(program, controller, others, function)
                reader_text = readers.first(unit, name)
                if reader_text is None:
                    continue
                reader = reader_text
            reported.add((id(unit), name))
            reporter.report(
                rules.STEP_CHANGES_MODULE_VALUE,
                source.location(anchor),
                step=step,
                change=change_text,
                reader=reader,
            )


def _own_change(change: Change) -> str:
    label = change.unit.label(change.name)
    if change.declared:
        return f"assigns the module-level `{label}` (`global {change.name}`)"
    if change.passed_to is not None:
        return f"changes the module-level `{label}` through `{change.passed_to}` (`{change.code}`)"
    return f"changes the module-level `{label}` (`{change.code}`)"


def _chain(titles: tuple[str, ...]) -> str:
    return " -> ".join(f"`{t}`" for t in titles)


def _line_of(unit: Unit, node: cst.CSTNode, main: Unit) -> str:
    line = unit.source.positions[node].start.line
    return f"line {line}" if unit is main else f"{unit.source.path} line {line}"


def _reached(
    program: Program, starts: list[Region], stop: set[int]
) -> Iterator[tuple[Function, tuple[str, ...], cst.CSTNode, Unit, str | None]]:
    for (_, held, _), (target, chain, begins, unit) in program.reach(starts, stop).items():
        yield target, chain, begins, unit, held


class _Readers:
    """Where code outside one call of a step reads a module-level value."""

    def __init__(
        self,
        program: Program,
        controller: cst.FunctionDef,
        other_steps: list[cst.FunctionDef],
        step: cst.FunctionDef,
    ) -> None:
        main = program.main
        self.program = program
        self.roots = [
            Region(
                main, controller, program.function(main, controller, None), controller.name.value
            )
        ]
        self.roots += [
            Region(main, f, program.function(main, f, None), f.name.value) for f in other_steps
        ]
        self.roots += [
            Region(main, statement, None, "top-level code") for statement in _may_run_after(main)
        ]
        self.reached = [
            (Region(target.unit, target.node, target, target.title, shallow=applied), chain)
            for (_, _, applied), (target, chain, _, _) in program.reach(
                self.roots, {id(step)}
            ).items()
        ]

    def first(self, unit: Unit, name: str) -> str | None:
        """`code outside the step reads `X` (line N)`, naming the way there, or None."""
        label = unit.label(name)
        for region in self.roots:
            node = self._read_in(region, unit, name)
            if node is not None:
                where = _line_of(region.unit, node, self.program.main)
                return f"code outside the step reads `{label}` ({where})"
        for region, chain in self.reached:
            node = self._read_in(region, unit, name)
            if node is not None:
                where = _line_of(region.unit, node, self.program.main)
                return f"code outside the step reads `{label}` through {_chain(chain)} ({where})"
        return None

    def _read_in(self, region: Region, unit: Unit, name: str) -> cst.CSTNode | None:
        for node, other, parts in self.program.denoted(region):
            if other is unit and parts[0] == name:
                return node
        return None


def _may_run_after(main: Unit) -> list[cst.CSTNode]:
    """The top-level statements that may run after a step: from the first that may run the
    pipeline on. Before it come only definitions, imports and assignments of values that call
    nothing (`SEEN = []`), which Python runs before any step."""
    body: list[cst.CSTNode] = list(main.source.module.body)
    for index, statement in enumerate(body):
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(small, (cst.Import, cst.ImportFrom))
            or (isinstance(small, (cst.Assign, cst.AnnAssign)) and not _calls(small))
            or (isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString))
            for small in statement.body
        ):
            continue
        return body[index:]
    return []


def _calls(node: cst.CSTNode) -> bool:
    class _Finder(cst.CSTVisitor):
        found = False

        def visit_Call(self, node: cst.Call) -> None:
            self.found = True

    finder = _Finder()
    node.visit(finder)
    return finder.found


def _function_named(source: SourceModule, name: str) -> cst.FunctionDef | None:
    return next(
        (s for s in source.module.body if isinstance(s, cst.FunctionDef) and s.name.value == name),
        None,
    )
