"""A pipeline defined inside the function the `__main__` block calls, lifted to module level.

Real files write `def main():` that parses options, defines `@PipelineDecorator.pipeline(...)
def pipeline(): ...` whose body reads them through its closure, calls `pipeline()`, and maybe
goes on; `if __name__ == "__main__": main()`. Python runs main's statements before the call,
then the pipeline's body, then main's statements after the call, in one process. One controller
states the same program: those statements and the body in that order, main's names as the
controller's own. This module rewrites the file's text that way before the compiler reads it,
keeping every statement at its line (the decorator, flattened onto one line, takes the blank line
above `def main():`), so scripts and diagnostics point at the user's lines; `restore_locations`
puts back the columns the rewrite moved. Shapes whose answer would differ are refused at the line.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Diagnostic, Location
from pipec.compiler.parse import DecoratorKind, decorator_kind, is_main_block
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import within

__all__ = ["Lifting", "lift_enclosed_pipeline", "restore_locations"]


@dataclass(frozen=True)
class _Segment:
    """Columns from `start` on of the flattened decorator line came from `origin`."""

    start: int
    origin: Location


@dataclass(frozen=True)
class Lifting:
    """The rewritten text (None when nothing was lifted), and the refusals of enclosed pipelines.

    `explained` holds the nested pipeline definitions a refusal is about, which the generic
    "not at module level" check then leaves alone.
    """

    text: str | None = None
    refusals: tuple[Diagnostic, ...] = ()
    explained: frozenset[cst.FunctionDef] = frozenset()
    path: str = ""
    _shifts: dict[int, int] = field(default_factory=dict)  # line -> columns removed at its start
    _decorator_line: int = 0
    _segments: tuple[_Segment, ...] = ()


def restore_locations(
    diagnostics: Iterable[Diagnostic], lifting: Lifting
) -> tuple[Diagnostic, ...]:
    """The diagnostics, at the places in the user's file that the rewrite had moved."""
    return tuple(replace(d, location=_original(d.location, lifting)) for d in diagnostics)


def _original(location: Location, lifting: Lifting) -> Location:
    if lifting.text is None or location.path != lifting.path:
        return location
    if location.line == lifting._decorator_line and lifting._segments:
        segment = lifting._segments[0]
        for candidate in lifting._segments:
            if candidate.start <= location.column:
                segment = candidate
        return replace(
            segment.origin, column=segment.origin.column + location.column - segment.start
        )
    shift = lifting._shifts.get(location.line, 0)
    return replace(location, column=location.column + shift) if shift else location


def lift_enclosed_pipeline(source: SourceModule) -> Lifting:
    """Lift the pipeline that the function called by the `__main__` block defines and calls."""
    main_block = next(
        (s for s in source.module.body if isinstance(s, cst.If) and is_main_block(s)), None
    )
    refusals: list[Diagnostic] = []
    explained: set[cst.FunctionDef] = set()
    lifted: Lifting | None = None
    for statement in source.module.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        nested = _nested_pipelines(source, statement)
        if not nested or main_block is None:
            continue
        entry = _entry_call(source, main_block, statement.name.value)
        if entry is None:
            continue  # not run by `python FILE`: the generic check says it is not at module level
        explained.update(nested)
        shape = _Shape(source, statement, nested, entry)
        found = shape.refusals()
        if not found and lifted is not None:
            found = [shape.refuse("while another function called there defines one too")]
        if found:
            refusals.extend(found)
            continue
        lifted = shape.lift()
    if refusals or lifted is None:
        return Lifting(refusals=tuple(refusals), explained=frozenset(explained))
    return replace(lifted, explained=frozenset(explained))


class _PipelineFinder(cst.CSTVisitor):
    def __init__(self, source: SourceModule) -> None:
        self.source = source
        self.found: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if any(decorator_kind(self.source, d) is DecoratorKind.PIPELINE for d in node.decorators):
            self.found.append(node)


def _nested_pipelines(source: SourceModule, outer: cst.FunctionDef) -> list[cst.FunctionDef]:
    finder = _PipelineFinder(source)
    outer.body.visit(finder)
    return finder.found


@dataclass(frozen=True)
class _EntryCall:
    """How the `__main__` block calls the outer function: the calls, and the one statement."""

    calls: tuple[cst.Call, ...]
    statement: cst.BaseSuite | cst.SimpleStatementLine | None  # `main()` alone, when it is so
    other_reads: tuple[cst.Name, ...]  # reads of the outer function's name elsewhere


class _CallFinder(cst.CSTVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == self.name:
            self.calls.append(node)


def _entry_call(source: SourceModule, main_block: cst.If, name: str) -> _EntryCall | None:
    finder = _CallFinder(name)
    main_block.body.visit(finder)
    if not finder.calls:
        return None
    statement = None
    body = main_block.body
    # `main()` alone on a line of the block, or alone after `if __name__ == "__main__":`
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    for line in lines:
        if (
            isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
            and len(line.body) == 1
            and isinstance(line.body[0], cst.Expr)
            and line.body[0].value is finder.calls[0]
        ):
            statement = line
    called = {id(c.func) for c in finder.calls}
    others = tuple(
        use.node
        for use in source.uses
        if use.name == name and use.scope is source.global_scope and id(use.node) not in called
    )
    return _EntryCall(tuple(finder.calls), statement, others)


class _NodesFinder(cst.CSTVisitor):
    """Nodes of the given kinds in a function's own body (not in functions or lambdas inside)."""

    def __init__(self, kinds: tuple[type[cst.CSTNode], ...], skip: cst.CSTNode | None) -> None:
        self.kinds = kinds
        self.skip = skip
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.kinds):
            self.found.append(node)
        return not (node is self.skip or isinstance(node, (cst.Lambda, cst.ClassDef)))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def _own_nodes(
    body: cst.BaseSuite, kinds: tuple[type[cst.CSTNode], ...], skip: cst.CSTNode | None = None
) -> list[cst.CSTNode]:
    finder = _NodesFinder(kinds, skip)
    body.visit(finder)
    return finder.found


_WHERE_KIND = {
    cst.For: "`for` loop",
    cst.While: "`while` loop",
    cst.If: "`if`",
    cst.With: "`with`",
    cst.Try: "`try`",
    cst.FunctionDef: "nested function",
    cst.ClassDef: "class",
}


class _Shape:
    """One module-level function that defines a pipeline and is called by the `__main__` block."""

    def __init__(
        self,
        source: SourceModule,
        outer: cst.FunctionDef,
        nested: list[cst.FunctionDef],
        entry: _EntryCall,
    ) -> None:
        self.source = source
        self.outer = outer
        self.nested = nested
        self.pipeline = nested[0]
        self.entry = entry
        self.name = self.pipeline.name.value
        self.outer_name = outer.name.value

    def refuse(self, cause: str, fix: str = "", at: cst.CSTNode | None = None) -> Diagnostic:
        location = self.source.location(at if at is not None else self.pipeline)
        return rules.ENCLOSED_PIPELINE.at(
            location,
            function=self.name,
            outer=self.outer_name,
            cause=cause,
            fix=fix
            or "write it as plain Python runs it once: define the pipeline directly in "
            f"`{self.outer_name}`'s body and call it right after",
        )

    def refusals(self) -> list[Diagnostic]:
        found = self._entry_refusals() or self._outer_refusals() or self._call_refusals()
        return found or self._name_refusals() or self._layout_refusals()

    # ---- what runs it -------------------------------------------------------------------------

    def _entry_refusals(self) -> list[Diagnostic]:
        entry, outer = self.entry, self.outer_name
        if len(entry.calls) > 1:
            return [
                self.refuse(
                    f'which the `if __name__ == "__main__":` block calls {len(entry.calls)} '
                    "times, so Python runs the pipeline that often",
                    f"call `{outer}()` once",
                    entry.calls[1],
                )
            ]
        if entry.statement is None or entry.calls[0].args:
            return [
                self.refuse(
                    f'which the `if __name__ == "__main__":` block calls otherwise than as '
                    f"`{outer}()` alone on its line",
                    f"write `{outer}()` as a statement of its own, with no arguments",
                    entry.calls[0],
                )
            ]
        if entry.other_reads:
            return [
                self.refuse(
                    f"and `{outer}` is also used outside the `__main__` block",
                    f"call `{outer}` only from the `__main__` block",
                    entry.other_reads[0],
                )
            ]
        return []

    def _outer_refusals(self) -> list[Diagnostic]:
        outer, name = self.outer, self.outer_name
        if outer.decorators:
            return [self.refuse("which carries a decorator", f"remove the decorator of `{name}`")]
        if outer.asynchronous is not None:
            return [self.refuse("an async function", f"make `{name}` a plain `def`")]
        if _has_parameters(outer.params):
            return [
                self.refuse(
                    "which takes parameters",
                    f"compute their values in `{name}`'s body",
                    outer.params,
                )
            ]
        if len(self.nested) > 1:
            return [
                self.refuse(
                    f"which defines {len(self.nested)} pipelines",
                    "keep one pipeline per function",
                    self.nested[1],
                )
            ]
        if not isinstance(outer.body, cst.IndentedBlock):
            return [self.refuse("on the `def` line itself")]
        if not any(s is self.pipeline for s in outer.body.body):
            holder = self._holder()
            kind = _WHERE_KIND.get(type(holder), "block")
            return [
                self.refuse(
                    f"inside a {kind} of `{name}`: Python may define it several times, or "
                    "not at all",
                    f"define it directly in `{name}`'s body (not inside a {kind}) and call it "
                    "once, right after",
                    holder,
                )
            ]
        own = _own_nodes(
            outer.body, (cst.Return, cst.Yield, cst.Global, cst.Nonlocal), self.pipeline
        )
        for node in own:
            what = {
                cst.Return: "`return`",
                cst.Yield: "`yield`",
                cst.Global: "`global`",
                cst.Nonlocal: "`nonlocal`",
            }[type(node)]
            return [
                self.refuse(
                    f"whose {what} has no counterpart in one controller",
                    f"remove the {what} from `{name}`",
                    node,
                )
            ]
        return []

    def _holder(self) -> cst.CSTNode:
        """The statement of the outer body that holds the pipeline's definition."""
        assert isinstance(self.outer.body, cst.IndentedBlock)
        where = self.source.positions[self.pipeline]
        for statement in self.outer.body.body:
            extent = self.source.positions[statement]
            if extent.start.line <= where.start.line <= extent.end.line:
                return statement
        return self.pipeline

    # ---- how it is called ---------------------------------------------------------------------

    def _call_refusals(self) -> list[Diagnostic]:
        assert isinstance(self.outer.body, cst.IndentedBlock)
        body = list(self.outer.body.body)
        at = next(i for i, s in enumerate(body) if s is self.pipeline)
        reads = [
            use.node
            for use in self.source.uses
            if use.name == self.name
            and _inside(self.source, use.node, self.outer)
            and not _inside(self.source, use.node, self.pipeline)
        ]
        if not reads:
            return [
                self.refuse(
                    "which never calls it, so Python never runs it",
                    f"call `{self.name}()` right after its definition",
                )
            ]
        holders = [next(s for s in body if _inside(self.source, r, s)) for r in reads]
        for read, holder in zip(reads, holders, strict=True):
            if isinstance(holder, (cst.For, cst.While)):
                return [
                    self.refuse(
                        "which calls it inside a loop, so Python runs the pipeline once per turn",
                        "call it once; a loop over values belongs inside the pipeline's body",
                        read,
                    )
                ]
        if len(reads) > 1:
            return [
                self.refuse(
                    f"which calls `{self.name}` (or passes it on) {len(reads)} times, so Python "
                    "runs the pipeline more than once",
                    f"call `{self.name}()` once",
                    reads[1],
                )
            ]
        (read,), (holder,) = reads, holders
        call = self._bare_call(holder)
        if call is None or holder is not body[at + 1] and body.index(holder) < at:
            return [
                self.refuse(
                    f"and `{self.name}` is used otherwise than as a call `{self.name}()` alone "
                    "on its line after the definition",
                    f"call `{self.name}()` as a statement of its own, with no arguments",
                    read,
                )
            ]
        if holder is not body[at + 1]:
            return [
                self.refuse(
                    "and the statements between its definition and its call run before its "
                    "body in Python, but would run after it in the controller pipec compiles",
                    "move those statements above the pipeline's definition",
                    body[at + 1],
                )
            ]
        body_returns = _own_nodes(self.pipeline.body, (cst.Return,))
        if body_returns and at + 2 < len(body):
            return [
                self.refuse(
                    f"and its `return` would skip the statements after the call "
                    f"`{self.name}()` in the controller pipec compiles",
                    "move the statements after the call into the pipeline's body, before its "
                    "`return`",
                    body_returns[0],
                )
            ]
        return []

    def _bare_call(self, statement: cst.BaseStatement) -> cst.Expr | None:
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and len(statement.body) == 1
            and isinstance(statement.body[0], cst.Expr)
            and isinstance(statement.body[0].value, cst.Call)
            and isinstance(statement.body[0].value.func, cst.Name)
            and statement.body[0].value.func.value == self.name
            and not statement.body[0].value.args
        ):
            return statement.body[0]
        return None

    # ---- names --------------------------------------------------------------------------------

    def _name_refusals(self) -> list[Diagnostic]:
        pipeline = self.pipeline
        if not isinstance(pipeline.body, cst.IndentedBlock) or not pipeline.body.body:
            return [self.refuse("with its body on the `def` line")]
        outer_scope = self.source.scopes.get(pipeline)
        inner_scope = self.source.scopes.get(pipeline.body.body[0])
        if outer_scope is None or inner_scope is None:
            return []
        outer_names = {a.name for a in outer_scope.assignments} | {
            a.node.value for a in outer_scope.accesses if isinstance(a.node, cst.Name)
        }
        for assignment in inner_scope.assignments:
            if assignment.name in outer_names:
                node = getattr(assignment, "node", None)
                return [
                    self.refuse(
                        f"and `{assignment.name}` is a name of both: in one controller, the "
                        f"pipeline's `{assignment.name}` would replace `{self.outer_name}`'s",
                        f"rename `{assignment.name}` in the pipeline's body",
                        node if isinstance(node, cst.CSTNode) else None,
                    )
                ]
        assigned = {a.name for a in outer_scope.assignments}
        header_reads = [
            use
            for use in self.source.uses_within(self.source.positions[pipeline.params])
            if use.name in assigned
        ]
        if header_reads:
            return [
                self.refuse(
                    f"and its parameters read `{header_reads[0].name}` of `{self.outer_name}`, "
                    "which a module-level function could not",
                    f"read `{header_reads[0].name}` in the pipeline's body instead",
                    header_reads[0].node,
                )
            ]
        if self.name in self.source.global_bindings():
            return [
                self.refuse(
                    f"and the module defines another `{self.name}`",
                    "rename the pipeline function",
                )
            ]
        if len(pipeline.decorators) > 1:
            return [
                self.refuse(
                    "and carries other decorators too",
                    "keep only `@PipelineDecorator.pipeline(...)` on it",
                    pipeline.decorators[1],
                )
            ]
        return []

    # ---- the text -----------------------------------------------------------------------------

    def _layout_refusals(self) -> list[Diagnostic]:
        lines = self.source.text.split("\n")
        start = self.source.positions[self.outer].start.line
        header = lines[start - 1]
        if not re.fullmatch(rf"def\s+{self.outer_name}\s*\(\s*\)\s*(->[^:]*)?:\s*(#.*)?", header):
            return [
                self.refuse(
                    f"and `def {self.outer_name}():` is not written on one line",
                    f"write `def {self.outer_name}():` on one line",
                    self.outer,
                )
            ]
        above = lines[start - 2].strip() if start >= 2 else "code"
        if above and not above.startswith("#"):
            return [
                self.refuse(
                    f"right below other code: pipec moves the decorator to the line above "
                    f"`def {self.outer_name}():`",
                    f"leave a blank line above `def {self.outer_name}():`",
                    self.outer,
                )
            ]
        return []

    def lift(self) -> Lifting:
        """The text with the pipeline's definition in place of the outer function's."""
        source, pipeline = self.source, self.pipeline
        lines = source.text.split("\n")
        in_strings = _string_continuation_lines(source.text)
        assert isinstance(pipeline.body, cst.IndentedBlock)
        first_body = source.positions[pipeline.body.body[0]].start.line
        outer_indent = _indent(lines[source.positions[pipeline].start.line - 1])
        body_indent = _indent(lines[first_body - 1])
        shifts: dict[int, int] = {}
        outer_line = source.positions[self.outer].start.line
        decorator = pipeline.decorators[0]
        flat, segments = self._flat_decorator(decorator)
        lines[outer_line - 2] = flat
        params = _one_line_parameters(source.code(pipeline.params))
        returns = f" -> {source.code(pipeline.returns.annotation)}" if pipeline.returns else ""
        lines[outer_line - 1] = f"def {self.name}({params}){returns}:"
        for number in range(source.positions[decorator].start.line, first_body):
            lines[number - 1] = ""
        extra = len(body_indent) - len(outer_indent)
        last_body = source.positions[pipeline].end.line
        for number in range(first_body, last_body + 1):
            text = lines[number - 1]
            if number in in_strings or not text.strip():
                continue
            if text.startswith(body_indent):
                lines[number - 1] = outer_indent + text[len(body_indent) :]
                shifts[number] = extra
        assert isinstance(self.outer.body, cst.IndentedBlock)
        body = list(self.outer.body.body)
        call_statement = body[body.index(pipeline) + 1]
        extent = source.positions[call_statement]
        for number in range(extent.start.line, extent.end.line + 1):
            lines[number - 1] = ""
        statement = self.entry.statement
        assert statement is not None
        name_at = source.positions[self.entry.calls[0].func]
        line = lines[name_at.start.line - 1]
        column = name_at.start.column
        lines[name_at.start.line - 1] = (
            line[:column] + self.name + line[column + len(self.outer_name) :]
        )
        return Lifting(
            text="\n".join(lines),
            path=source.path,
            _shifts=shifts,
            _decorator_line=outer_line - 1,
            _segments=segments,
        )

    def _flat_decorator(self, decorator: cst.Decorator) -> tuple[str, tuple[_Segment, ...]]:
        """The decorator on one line, and where each of its options came from."""
        source = self.source
        expression = decorator.decorator
        segments = [_Segment(1, source.location(decorator))]
        if not isinstance(expression, cst.Call):
            return "@" + _one_line(source.code(expression)), tuple(segments)
        text = "@" + _one_line(source.code(expression.func)) + "("
        for index, argument in enumerate(expression.args):
            if index:
                text += ", "
            segments.append(_Segment(len(text) + 1, source.location(argument)))
            keyword = f"{argument.keyword.value}=" if argument.keyword is not None else ""
            text += keyword + str(argument.star) + _one_line(source.code(argument.value))
        return text + ")", tuple(segments)


def _has_parameters(params: cst.Parameters) -> bool:
    return bool(
        params.params
        or params.posonly_params
        or params.kwonly_params
        or isinstance(params.star_arg, cst.Param)
        or params.star_kwarg is not None
    )


def _inside(source: SourceModule, inner: cst.CSTNode, outer: cst.CSTNode) -> bool:
    return within(source.positions[inner], source.extent(outer))


def _one_line_parameters(code: str) -> str:
    if "\n" not in code:
        return code
    header = ast.parse(f"def f({code}): pass").body[0]
    assert isinstance(header, ast.FunctionDef)
    return ast.unparse(header.args)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _one_line(code: str) -> str:
    """An expression's code on one line: comments and line breaks inside it dropped."""
    if "\n" not in code:
        return code
    return ast.unparse(ast.parse("(" + code + ")", mode="eval").body)


def _string_continuation_lines(text: str) -> set[int]:
    """Lines that continue a string begun on an earlier line: their indentation is the string's."""
    inside: set[int] = set()
    kinds = {tokenize.STRING}
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)
    if middle is not None:
        kinds.add(middle)
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in kinds and token.end[0] > token.start[0]:
            inside.update(range(token.start[0] + 1, token.end[0] + 1))
    return inside
