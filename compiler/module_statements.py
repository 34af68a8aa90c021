"""Which module-level statements set up the process, so that every script runs them as Python would.

Plain Python runs the whole module before the controller calls a step: a call such as
`random.seed(1)` or `logging.basicConfig(...)`, an item assignment such as
`os.environ["X"] = "1"`, and compound statements holding them (`if DEBUG: ...`,
`for name in NAMES: ...`) have all run by then. Each script therefore carries them, in the
file's order. Module-level printing belongs to no step (a carried compound statement loses its
`print` statements), and code that calls ClearML, pipec or the pipeline's own decorated
functions describes the pipeline rather than the process.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import libcst as cst

from pipec.compiler.main_names import main_assignment
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import RunsWithStatement, import_bound_name

__all__ = [
    "COMPOUND",
    "CompoundEffects",
    "compound_effects",
    "draws_on",
    "state_touched",
    "is_setup_line",
    "keyword_of",
    "launchers",
    "import_names",
    "main_setup_lines",
    "printing_within",
    "registers_itself",
    "without_prints",
]

COMPOUND = (cst.If, cst.With, cst.Try, cst.TryStar, cst.For, cst.While, cst.Match)


def keyword_of(statement: cst.CSTNode) -> str:
    """The keyword a compound statement starts with, as a user wrote it."""
    names = {
        cst.If: "if",
        cst.With: "with",
        cst.Try: "try",
        cst.TryStar: "try",
        cst.For: "for",
        cst.While: "while",
        cst.Match: "match",
    }
    return names.get(type(statement), type(statement).__name__.lower())


def _describes_pipeline(
    source: SourceModule, func: cst.BaseExpression, pipeline_names: Collection[str]
) -> bool:
    """A call of ClearML, of pipec or of one of the pipeline's own decorated functions."""
    while isinstance(func, cst.Attribute | cst.Call | cst.Subscript):
        func = func.value if isinstance(func, cst.Attribute | cst.Subscript) else func.func
    if isinstance(func, cst.Name) and func.value in pipeline_names:
        return True
    return any(q.split(".")[0] in {"clearml", "pipec"} for q in source.qualified_names(func))


def _changes_something(small: cst.BaseSmallStatement) -> bool:
    """A call for its effect, or an assignment to an item or attribute of something else."""
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.Call)
    targets: list[cst.BaseExpression]
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, cst.AugAssign | cst.AnnAssign | cst.Del):
        targets = [small.target]
    else:
        return False
    return any(isinstance(t, cst.Subscript | cst.Attribute) for t in targets)


def is_setup_line(
    source: SourceModule, statement: cst.CSTNode, pipeline_names: Collection[str]
) -> bool:
    """A module-level line of calls or item/attribute assignments that sets up the process."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    # `random.seed(1); print("seeded")` sets up the process; its print belongs to no step.
    effects = [small for small in statement.body if not _is_print(small)]
    if not effects:
        return False
    for small in effects:
        if not _changes_something(small):
            return False
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if _describes_pipeline(source, func, pipeline_names):
                return False
        elif isinstance(small, cst.Assign | cst.AugAssign):
            target = small.targets[0].target if isinstance(small, cst.Assign) else small.target
            if _describes_pipeline(source, target, pipeline_names):
                return False
    return True


@dataclass(frozen=True)
class CompoundEffects:
    """What a module-level compound statement does beside binding names."""

    prints: tuple[cst.Call, ...]  # its `print(...)` statements
    pipeline_calls: tuple[cst.Call, ...]  # calls of ClearML, pipec or the pipeline's functions
    sets_up: bool  # it calls something, or assigns to an item or attribute


class _EffectFinder(RunsWithStatement):
    def __init__(self, source: SourceModule, pipeline_names: Collection[str]) -> None:
        self.source = source
        self.pipeline_names = pipeline_names
        self.prints: list[cst.Call] = []
        self.pipeline_calls: list[cst.Call] = []
        self.sets_up = False

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        if any(_changes_something(small) for small in node.body):
            self.sets_up = True
        self.prints.extend(
            small.value
            for small in node.body
            if _is_print(small)
            and isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
        )

    def visit_Call(self, node: cst.Call) -> None:
        if _describes_pipeline(self.source, node.func, self.pipeline_names):
            self.pipeline_calls.append(node)


def compound_effects(
    source: SourceModule, statement: cst.CSTNode, pipeline_names: Collection[str]
) -> CompoundEffects | None:
    """The effects of a module-level compound statement; None for any other statement.

    `if TYPE_CHECKING:` only binds names for type checkers: it is never a setup statement.
    """
    if not isinstance(statement, COMPOUND):
        return None
    if isinstance(statement, cst.If) and _is_type_checking(source, statement.test):
        return CompoundEffects((), (), False)
    finder = _EffectFinder(source, pipeline_names)
    statement.visit(finder)
    only_printing = finder.sets_up and all(
        _only_prints(line) for line in _lines_with_effects(statement)
    )
    return CompoundEffects(
        tuple(finder.prints),
        tuple(finder.pipeline_calls),
        finder.sets_up and not only_printing,
    )


def _is_type_checking(source: SourceModule, test: cst.BaseExpression) -> bool:
    return "typing.TYPE_CHECKING" in source.qualified_names(test) or (
        isinstance(test, cst.Name) and test.value == "TYPE_CHECKING"
    )


def _lines_with_effects(statement: cst.CSTNode) -> list[cst.SimpleStatementLine]:
    found: list[cst.SimpleStatementLine] = []

    class _Lines(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            if any(_changes_something(small) for small in node.body):
                found.append(node)

    statement.visit(_Lines())
    return found


def _only_prints(line: cst.SimpleStatementLine) -> bool:
    return all(_is_print(small) for small in line.body if _changes_something(small))


def _is_print(small: cst.BaseSmallStatement) -> bool:
    """`print(...)`, or a call that only writes a log record (`log.info(...)`,
    `logger.warning(...)`, `warnings.warn(...)`): output of the module, printed once by Python."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return False
    func = small.value.func
    if isinstance(func, cst.Name):
        return func.value == "print"
    return _logging_receiver(small) not in (None, "logging")


# The methods of a logger (and `warnings.warn`) that write a record and change nothing else.
_LOG_OUTPUT = frozenset(
    ["critical", "debug", "error", "exception", "info", "log", "warn", "warning"]
)


def _logging_receiver(small: cst.BaseSmallStatement) -> str | None:
    """`log` for `log.info(...)`: the name a logging call is made on, if `small` is one."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    func = small.value.func
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.attr.value in _LOG_OUTPUT
    ):
        return func.value.value
    return None


def _without_output(small: cst.BaseSmallStatement) -> cst.BaseSmallStatement:
    """`logging.info(...)` minus its output: the module's functions also give the root logger
    its default handler when it has none, which decides what later `basicConfig` calls do."""
    if _logging_receiver(small) == "logging":
        return cst.Expr(cst.parse_expression("logging.basicConfig()"))
    return small


class _PrintsDropped(cst.CSTTransformer):
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        kept = [_without_output(small) for small in updated_node.body if not _is_print(small)]
        if not kept:
            return cst.RemoveFromParent()
        return updated_node.with_changes(body=_last_without_semicolon(kept))

    def leave_SimpleStatementSuite(
        self, original_node: cst.SimpleStatementSuite, updated_node: cst.SimpleStatementSuite
    ) -> cst.SimpleStatementSuite:
        kept = [_without_output(small) for small in updated_node.body if not _is_print(small)] or [
            cst.Pass()
        ]
        return updated_node.with_changes(body=_last_without_semicolon(kept))

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        # A block left empty keeps Python's grammar with `pass`.
        if updated_node.body:
            return updated_node
        return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])


def _last_without_semicolon(
    body: list[cst.BaseSmallStatement],
) -> list[cst.BaseSmallStatement]:
    return [*body[:-1], body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]


def without_prints(statement: cst.BaseStatement) -> cst.BaseStatement:
    """A carried statement minus its `print` statements, which belong to no step."""
    if not isinstance(statement, (*COMPOUND, cst.SimpleStatementLine)):
        return statement
    if isinstance(statement, cst.SimpleStatementLine) and all(
        _is_print(small) for small in statement.body
    ):
        return statement  # a line of prints alone is never carried
    changed = statement.visit(_PrintsDropped())
    assert isinstance(changed, cst.BaseStatement)
    return changed


class _PrintingFinder(RunsWithStatement):
    """`print` where dropping the statement would change what the rest of it does."""

    def __init__(self, source: SourceModule) -> None:
        self.source = source
        self.found: list[cst.BaseExpression] = []

    def visit_Expr(self, node: cst.Expr) -> bool:
        # A `print(...)` statement is dropped whole; only its arguments could still print.
        if _is_print(node) and isinstance(node.value, cst.Call):
            for argument in node.value.args:
                argument.value.visit(self)
            return False
        return True

    def visit_Call(self, node: cst.Call) -> None:
        # A call of print, or print handed to a call that may call it (`map(print, names)`).
        for used in (node.func, *(argument.value for argument in node.args)):
            if self._is_builtin_print(used):
                self.found.append(used)

    def _is_builtin_print(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Name)
            and node.value == "print"
            and "builtins.print" in self.source.qualified_names(node)
        )


def printing_within(source: SourceModule, statement: cst.CSTNode) -> cst.BaseExpression | None:
    """The first `print` inside an expression of a module-level statement that scripts carry.

    A `print(...)` statement can be left out (module-level printing belongs to no step), but one
    inside an expression (`x = f(print("hi"))`, `len(print(n) or n)`, `map(print, names)`)
    cannot: leaving it out would change the value, and keeping it would print in every step.
    """
    finder = _PrintingFinder(source)
    statement.visit(finder)
    return finder.found[0] if finder.found else None


class _CallRoots(RunsWithStatement):
    """The modules and objects a statement calls into or assigns items of, by their first name."""

    def __init__(self, source: SourceModule) -> None:
        self.source = source
        self.roots: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        self.add(node.func)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Subscript | cst.Attribute):
            self.add(node.target)

    def add(self, expression: cst.BaseExpression) -> None:
        while isinstance(expression, cst.Attribute | cst.Call | cst.Subscript):
            expression = expression.func if isinstance(expression, cst.Call) else expression.value
        if not isinstance(expression, cst.Name):
            return
        qualified = self.source.qualified_names(expression)
        roots = {q.split(".")[0] for q in qualified} or {expression.value}
        # Builtins (`open`, `len`) are everyone's: sharing one says nothing about shared state.
        self.roots.update(roots - {"builtins"})


def state_touched(source: SourceModule, statement: cst.CSTNode) -> frozenset[str]:
    """What a setup statement changes, by root name: `random` for `rnd.seed(1)`, `os` for
    `os.environ["X"] = "1"`."""
    finder = _CallRoots(source)
    statement.visit(finder)
    return frozenset(finder.roots)


def draws_on(source: SourceModule, statement: cst.CSTNode, touched: Collection[str]) -> bool:
    """A module-level assignment that calls into what setup statements change.

    After `random.seed(7)`, `NOISE = random.random()` moves the generator on: a script that
    left it out would draw NOISE's number in the step. So such an assignment runs in every
    script, as the setup does, whether or not the step names it.
    """
    if not isinstance(statement, cst.SimpleStatementLine) or not touched:
        return False
    finder = _CallRoots(source)
    for small in statement.body:
        if not isinstance(small, cst.Assign | cst.AnnAssign | cst.AugAssign):
            return False
        if small.value is not None:
            small.value.visit(finder)
    return bool(finder.roots & set(touched))


def registers_itself(
    source: SourceModule, statement: cst.CSTNode, touched: Collection[str]
) -> bool:
    """A function or class whose decorator changes module state (`@register` adding it to a
    module-level REGISTRY): defining it is setup, which every script runs, named or not."""
    if not isinstance(statement, cst.FunctionDef | cst.ClassDef) or not touched:
        return False
    finder = _CallRoots(source)
    for decorator in statement.decorators:
        finder.add(decorator.decorator)
    return bool(finder.roots & set(touched))


def main_setup_lines(
    source: SourceModule, main_block: cst.If, pipeline_names: Collection[str]
) -> list[cst.SimpleStatementLine]:
    """Setup lines under `if __name__ == "__main__":` that run before it starts the pipeline,
    with the block's import lines they read.

    `python pipeline.py` runs them before any step (`os.environ["MODE"] = "prod"`, then
    `controller()`), so every script runs them, after the module's own statements. A line
    that works on a value the block made at run time (`parser.add_argument(...)` after
    `parser = argparse.ArgumentParser()`) is the block's own work, not setup of the process: it
    stays out. A name the block binds to a value known at build time (`MODE = "prod"`) is
    carried as that value (main_names), so a line reading it is setup like any other.
    """
    body = main_block.body
    if not isinstance(body, cst.IndentedBlock):
        return []
    # `cli()` that calls `main()` that calls the pipeline starts it too, and so does handing
    # one of them to another function (`fire.Fire(main)`): setup ends there.
    starting = {*pipeline_names, *launchers(source, pipeline_names)}
    setup: list[cst.SimpleStatementLine] = []
    imports: dict[str, cst.SimpleStatementLine] = {}  # names the block's import lines bind
    made: set[str] = set()  # names the block binds otherwise
    for statement in body.body:
        read = source.globals_read_within(source.extent(statement))
        if read & starting:
            break
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body
        ):
            imports.update(dict.fromkeys(import_names(statement), statement))
            continue
        if (
            isinstance(statement, cst.SimpleStatementLine)
            and all(
                main_assignment(source, main_block, name, pipeline_names).code is not None
                for name in read & made
            )
            and is_setup_line(source, statement, pipeline_names)
        ):
            setup.append(statement)
        made |= source.globals_bound_within(source.extent(statement))
    needed = {
        id(imports[name])
        for line in setup
        for name in source.globals_read_within(source.extent(line))
        if name in imports
    }
    return [
        statement
        for statement in body.body
        if isinstance(statement, cst.SimpleStatementLine)
        and (id(statement) in needed or any(statement is line for line in setup))
    ]


def import_names(statement: cst.SimpleStatementLine) -> set[str]:
    """The names an import line binds (`import a.b` binds `a`); a star import, none we know."""
    return {
        import_bound_name(alias)
        for small in statement.body
        if isinstance(small, cst.Import | cst.ImportFrom)
        and not isinstance(small.names, cst.ImportStar)
        for alias in small.names
    }


def launchers(source: SourceModule, names: Collection[str]) -> set[str]:
    """The module-level functions and classes that name one of `names`, directly or through
    one another (`def cli(): main()` with `def main(): controller()`), leaving `names` out."""
    uses = {
        statement.name.value: source.globals_read_within(source.extent(statement))
        for statement in source.module.body
        if isinstance(statement, cst.FunctionDef | cst.ClassDef)
        and statement.name.value not in names
    }
    found: set[str] = set()
    while True:
        more = {
            name for name, used in uses.items() if name not in found and used & {*names, *found}
        }
        if not more:
            return found
        found |= more
