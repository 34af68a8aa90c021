"""Names the file reads while Python imports it, before any statement has bound them.

`python pipeline.py` runs the module's statements top to bottom: a decorator, a default value, a
module-level annotation or assignment, a class body, and the `__main__` block up to the pipeline
call are evaluated as their statement is reached. A module-level name read there before its first
binding stops the program with NameError before any step runs. The generated scripts do not
share that order (a default is folded into the manifest, a constant is carried above the
function that needs it), so a build would run a program Python refuses to start: pipec refuses
it at the read.

Only reads Python is sure to reach count: the right side of `and`/`or`, the branches of a
conditional expression, comprehension bodies, lambda bodies, and the bodies of `if`/`for`/
`while`/`try`/`match` statements may never run. A file that binds names behind the compiler's
back (a star import above the read, `globals()`, `exec`) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Diagnostic
from pipec.compiler.parse import DecoratorKind, decorator_kind, is_main_block
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import contains

__all__ = ["reads_before_binding"]

# Module-level code that binds names no static reading can see.
_HIDDEN_BINDERS = frozenset(["globals", "exec", "vars", "__builtins__", "setattr"])


@dataclass(frozen=True)
class _Read:
    name: cst.Name
    index: int  # the top-level statement that reads it
    same_statement_binds: bool  # a read the statement's own binding cannot precede


def reads_before_binding(source: SourceModule) -> list[Diagnostic]:
    """One error per name the file reads at import before Python has bound it."""
    if _binds_behind_the_compiler(source):
        return []
    uses = {use.node: use for use in source.uses}
    bindings = source.global_bindings()
    body = source.module.body
    star_at = next((i for i, s in enumerate(body) if _is_star_import(s)), len(body))
    postponed = _postpones_annotations(body)
    found: list[Diagnostic] = []
    reported: set[str] = set()
    for read in _import_time_reads(source, postponed):
        use = uses.get(read.name)
        # libcst leaves a module-level read above every binding of its name without a scope
        if use is None or use.builtin or use.scope not in (None, source.global_scope):
            continue
        if use.name not in bindings:
            continue  # defined nowhere: the undefined-name checks say so
        first = bindings[use.name][0]
        too_early = first > read.index or (first == read.index and read.same_statement_binds)
        if not too_early or read.index > star_at or use.name in reported:
            continue
        reported.add(use.name)
        bound = source.location(body[first])
        found.append(
            rules.READ_BEFORE_BOUND.at(
                source.location(read.name),
                name=use.name,
                line=bound.line,
                read_line=source.location(read.name).line,
            )
        )
    return found


def _binds_behind_the_compiler(source: SourceModule) -> bool:
    return any(use.name in _HIDDEN_BINDERS for use in source.uses)


def _is_star_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar)
        for small in statement.body
    )


def _postpones_annotations(body: Sequence[cst.BaseStatement]) -> bool:
    for statement in body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (
                isinstance(small, cst.ImportFrom)
                and isinstance(small.module, cst.Name)
                and small.module.value == "__future__"
                and not isinstance(small.names, cst.ImportStar)
                and any(
                    isinstance(alias.name, cst.Name) and alias.name.value == "annotations"
                    for alias in small.names
                )
            ):
                return True
    return False


def _import_time_reads(source: SourceModule, postponed: bool) -> Iterator[_Read]:
    pipelines = {
        statement.name.value
        for statement in source.module.body
        if isinstance(statement, cst.FunctionDef)
        and any(decorator_kind(source, d) is DecoratorKind.PIPELINE for d in statement.decorators)
    }
    for index, statement in enumerate(source.module.body):
        if is_main_block(statement):
            assert isinstance(statement, cst.If)
            # a name the block binds itself: read before or after its line, left to other checks
            for inner in _main_block_until_the_call(statement, pipelines):
                for name, _ in _statement_reads(inner, postponed):
                    yield _Read(name, index, False)
            continue
        for name, binds in _statement_reads(statement, postponed):
            yield _Read(name, index, binds)


def _main_block_until_the_call(block: cst.If, pipelines: set[str]) -> Iterator[cst.BaseStatement]:
    """The block's statements up to the one that calls a pipeline (Python reads its arguments
    before the pipeline runs; what follows runs only once it has)."""
    if not isinstance(block.body, cst.IndentedBlock):
        return
    for statement in block.body.body:
        yield statement
        calls = _Calls()
        statement.visit(calls)
        if calls.names & pipelines:
            return


class _Calls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name):
            self.names.add(node.func.value)


def _statement_reads(
    statement: cst.BaseStatement | cst.BaseSmallStatement, postponed: bool
) -> Iterator[tuple[cst.Name, bool]]:
    """The names a statement surely reads as Python reaches it; True where the statement also
    binds module names after reading (an assignment, a `def`, a `class`)."""
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            yield from _statement_reads(small, postponed)
    elif isinstance(statement, cst.FunctionDef):
        yield from _marked(_header(statement.decorators, statement.params, postponed), True)
        if statement.returns is not None and not postponed:
            yield from _marked(_expression(statement.returns.annotation), True)
    elif isinstance(statement, cst.ClassDef):
        parts: list[cst.BaseExpression] = [d.decorator for d in statement.decorators]
        parts += [arg.value for arg in (*statement.bases, *statement.keywords)]
        for part in parts:
            yield from _marked(_expression(part), True)
        yield from _nested(statement.body, postponed)
    elif isinstance(statement, (cst.If, cst.While)):
        yield from _marked(_expression(statement.test), False)
    elif isinstance(statement, cst.For):
        yield from _marked(_expression(statement.iter), False)
    elif isinstance(statement, cst.With):
        for item in statement.items:
            yield from _marked(_expression(item.item), False)
        yield from _nested(statement.body, postponed)
    elif isinstance(statement, cst.Match):
        yield from _marked(_expression(statement.subject), False)
    elif isinstance(statement, cst.Expr):
        yield from _marked(_expression(statement.value), False)
    elif isinstance(statement, cst.Assign):
        binds = not contains(statement.value, cst.NamedExpr)
        yield from _marked(_expression(statement.value), binds)
        for target in statement.targets:
            yield from _marked(_target_reads(target.target), binds)
    elif isinstance(statement, cst.AugAssign):
        yield from _marked(_expression(statement.target), True)
        yield from _marked(_expression(statement.value), True)
    elif isinstance(statement, cst.AnnAssign):
        if statement.value is not None:
            yield from _marked(_expression(statement.value), True)
        if not postponed:
            yield from _marked(_expression(statement.annotation.annotation), True)
    elif isinstance(statement, (cst.Assert, cst.Raise)):
        first = statement.test if isinstance(statement, cst.Assert) else statement.exc
        if first is not None:
            yield from _marked(_expression(first), False)
    # `try`, `del`, `return`, imports and the rest read nothing Python is sure to reach first


def _nested(body: cst.BaseSuite, postponed: bool) -> Iterator[tuple[cst.Name, bool]]:
    """The reads of a block's statements. A name the enclosing statement binds (`with ... as
    handle:`, an assignment of the block) shares its index: left to other checks."""
    if isinstance(body, cst.IndentedBlock):
        for inner in body.body:
            for name, _ in _statement_reads(inner, postponed):
                yield name, False


def _marked(names: Iterator[cst.Name], binds: bool) -> Iterator[tuple[cst.Name, bool]]:
    for name in names:
        yield name, binds


def _header(
    decorators: Sequence[cst.Decorator], params: cst.Parameters, postponed: bool
) -> Iterator[cst.Name]:
    for decorator in decorators:
        yield from _expression(decorator.decorator)
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    for param in every:
        if param.default is not None:
            yield from _expression(param.default)
        if param.annotation is not None and not postponed:
            yield from _expression(param.annotation.annotation)


def _target_reads(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """What an assignment target reads: the object of `a.b = ...` and `a[k] = ...`."""
    if isinstance(target, cst.Attribute):
        yield from _expression(target.value)
    elif isinstance(target, cst.Subscript):
        yield from _expression(target)
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_reads(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_reads(target.value)


def _expression(node: cst.BaseExpression) -> Iterator[cst.Name]:
    """The names `node` surely reads when evaluated; parts that may not run are skipped."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            yield current
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
        elif isinstance(current, cst.BooleanOperation):
            stack.append(current.left)
        elif isinstance(current, cst.IfExp):
            stack.append(current.test)
        elif isinstance(current, cst.Lambda):
            stack.extend(_lambda_defaults(current.params))
        elif isinstance(current, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            stack.append(current.for_in.iter)
        elif isinstance(current, cst.Comparison):
            stack.append(current.left)
            stack.append(current.comparisons[0].comparator)
        elif isinstance(current, cst.Call):
            stack.append(current.func)
            stack.extend(arg.value for arg in current.args)
        elif isinstance(current, cst.Subscript):
            stack.append(current.value)
            stack.extend(element.slice for element in current.slice)
        elif isinstance(current, cst.Index):
            stack.append(current.value)
        elif isinstance(current, cst.Slice):
            stack.extend(p for p in (current.lower, current.upper, current.step) if p is not None)
        elif isinstance(current, cst.BinaryOperation):
            stack.extend((current.left, current.right))
        elif isinstance(current, cst.UnaryOperation):
            stack.append(current.expression)
        elif isinstance(current, (cst.Tuple, cst.List, cst.Set)):
            stack.extend(element.value for element in current.elements)
        elif isinstance(current, cst.Dict):
            for element in current.elements:
                if isinstance(element, cst.DictElement):
                    stack.extend((element.key, element.value))
                else:
                    stack.append(element.value)
        elif isinstance(current, cst.FormattedString):
            stack.extend(
                part.expression
                for part in current.parts
                if isinstance(part, cst.FormattedStringExpression)
            )
        elif isinstance(current, cst.ConcatenatedString):
            stack.extend((current.left, current.right))
        elif isinstance(current, (cst.NamedExpr, cst.StarredElement, cst.Element)):
            stack.append(current.value)
        elif isinstance(current, cst.Await):
            stack.append(current.expression)
        # anything else (literals, yield) reads no name Python is sure to reach


def _lambda_defaults(params: cst.Parameters) -> Iterator[cst.BaseExpression]:
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        if param.default is not None:
            yield param.default
