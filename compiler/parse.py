"""Pass 1: find the components, the pipelines and the `__main__` block of a parsed file."""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Diagnostic, Reporter
from pipec.compiler.source import SourceModule

__all__ = [
    "Decorated",
    "DecoratorKind",
    "ParsedFile",
    "decorator_kind",
    "find_decorated",
    "is_main_block",
    "main_index_of",
]

# Every import path under which ClearML (or pipec's drop-in) exposes the decorator class.
_DECORATOR_MODULES = ("clearml", "clearml.automation", "clearml.automation.controller", "pipec")


class DecoratorKind(enum.Enum):
    COMPONENT = "component"
    PIPELINE = "pipeline"


_QUALIFIED = {
    f"{module}.PipelineDecorator.{kind.value}": kind
    for module in _DECORATOR_MODULES
    for kind in DecoratorKind
}


@dataclass(frozen=True)
class Decorated:
    """A module-level function carrying a component or pipeline decorator."""

    kind: DecoratorKind
    function: cst.FunctionDef
    decorator: cst.Decorator
    call: cst.Call | None  # None for a bare `@PipelineDecorator.component`
    index: int  # position of the function in the module body

    @property
    def name(self) -> str:
        return self.function.name.value


@dataclass(frozen=True)
class ParsedFile:
    source: SourceModule
    components: tuple[Decorated, ...]
    pipelines: tuple[Decorated, ...]
    main_block: cst.If | None
    main_index: int | None


def decorator_kind(source: SourceModule, decorator: cst.Decorator) -> DecoratorKind | None:
    expr = decorator.decorator
    target = expr.func if isinstance(expr, cst.Call) else expr
    for name in source.qualified_names(target):
        if name in _QUALIFIED:
            return _QUALIFIED[name]
    return None


class _NestedFinder(cst.CSTVisitor):
    """Finds decorated functions that are not at module level (methods, closures, under `if`)."""

    def __init__(self, source: SourceModule) -> None:
        self.source = source
        self.depth = 0
        self.found: list[tuple[cst.FunctionDef, DecoratorKind]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.depth > 0:
            for decorator in node.decorators:
                kind = decorator_kind(self.source, decorator)
                if kind is not None:
                    self.found.append((node, kind))
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_If(self, node: cst.If) -> None:
        self.depth += 1

    def leave_If(self, original_node: cst.If) -> None:
        self.depth -= 1


def main_index_of(source: SourceModule) -> int | None:
    """Index in the module body of the (last) `if __name__ == "__main__":` block, if any."""
    found = None
    for index, statement in enumerate(source.module.body):
        if is_main_block(statement):
            found = index
    return found


def is_main_block(statement: cst.BaseStatement) -> bool:
    """`if __name__ == "__main__":`, either way round."""
    if not isinstance(statement, cst.If) or not isinstance(statement.test, cst.Comparison):
        return False
    test = statement.test
    if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = [test.left, test.comparisons[0].comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    strings = [
        s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"
    ]
    return len(names) == 1 and len(strings) == 1


def _report_foreign_decorator(
    source: SourceModule, decorator: cst.Decorator, diagnostics: list[Diagnostic]
) -> None:
    """`@PipelineDecorator.pipeline` whose class comes from a project's own module, or nowhere."""
    expr = decorator.decorator
    target = expr.func if isinstance(expr, cst.Call) else expr
    if not (
        isinstance(target, cst.Attribute)
        and target.attr.value in {k.value for k in DecoratorKind}
        and isinstance(target.value, (cst.Name, cst.Attribute))
        and (target.value.value if isinstance(target.value, cst.Name) else target.value.attr.value)
        == "PipelineDecorator"
    ):
        return
    names = sorted(source.qualified_names(target))
    suffix = f".PipelineDecorator.{target.attr.value}"
    origins = [n.removesuffix(suffix) for n in names if n.endswith(suffix)]
    origin = origins[0] if origins else "nowhere: PipelineDecorator is not imported"
    if any(d.code == rules.DECORATOR_FROM_ELSEWHERE.code for d in diagnostics):
        return  # one cause, told once: at the first decorator it spoils
    diagnostics.append(
        rules.DECORATOR_FROM_ELSEWHERE.at(
            source.location(decorator),
            decorator=source.code(target),
            origin=origin,
        )
    )


def _last_definitions(
    source: SourceModule,
    components: list[Decorated],
    pipelines: list[Decorated],
    diagnostics: list[Diagnostic],
) -> tuple[list[Decorated], list[Decorated]]:
    """Drop the definitions a later top-level `def` of the same name replaces, as Python does."""
    lines: dict[str, list[int]] = {}
    last: dict[str, cst.FunctionDef] = {}
    for statement in source.module.body:
        if isinstance(statement, cst.FunctionDef):
            lines.setdefault(statement.name.value, []).append(source.location(statement).line)
            last[statement.name.value] = statement
    for name, where in lines.items():
        if len(where) > 1 and any(d.name == name for d in (*components, *pipelines)):
            diagnostics.append(
                rules.REDEFINED_FUNCTION.at(
                    source.location(last[name]),
                    function=name,
                    count=len(where),
                    earlier=", ".join(str(n) for n in where[:-1]),
                )
            )
    return (
        [d for d in components if last[d.name] is d.function],
        [d for d in pipelines if last[d.name] is d.function],
    )


def find_decorated(
    source: SourceModule,
    reporter: Reporter,
    explained: Collection[cst.FunctionDef] = (),
) -> ParsedFile:
    """The file's components, pipelines and `__main__` block.

    A nested definition in `explained` already has a diagnostic that names its true cause.
    """
    components: list[Decorated] = []
    pipelines: list[Decorated] = []
    diagnostics: list[Diagnostic] = []
    main_block: cst.If | None = None
    main_index: int | None = None
    for index, statement in enumerate(source.module.body):
        if is_main_block(statement):
            assert isinstance(statement, cst.If)
            main_block, main_index = statement, index
            continue
        if not isinstance(statement, cst.FunctionDef):
            continue
        marks = [(d, decorator_kind(source, d)) for d in statement.decorators]
        for decorator, kind in marks:
            if kind is None:
                _report_foreign_decorator(source, decorator, diagnostics)
        marks = [(d, k) for d, k in marks if k is not None]
        if len(marks) > 1:
            diagnostics.append(
                rules.SEVERAL_DECORATORS.at(
                    source.location(marks[1][0]), function=statement.name.value
                )
            )
            continue
        if not marks:
            continue
        decorator, kind = marks[0]
        assert kind is not None
        call = decorator.decorator if isinstance(decorator.decorator, cst.Call) else None
        found = Decorated(kind, statement, decorator, call, index)
        (components if kind is DecoratorKind.COMPONENT else pipelines).append(found)
        if statement.asynchronous is not None:
            diagnostics.append(
                rules.ASYNC_FUNCTION.at(source.location(statement), function=statement.name.value)
            )

    components, pipelines = _last_definitions(source, components, pipelines, diagnostics)
    finder = _NestedFinder(source)
    source.module.visit(finder)
    for function, kind in finder.found:
        if function in explained:
            continue
        what = "component" if kind is DecoratorKind.COMPONENT else "pipeline controller"
        diagnostics.append(
            rules.NOT_AT_MODULE_LEVEL.at(
                source.location(function), what=what, function=function.name.value
            )
        )
    for diagnostic in diagnostics:
        reporter.add(diagnostic)
    return ParsedFile(source, tuple(components), tuple(pipelines), main_block, main_index)
