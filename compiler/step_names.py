"""Names a step's script would read and nothing defines, and module values each script recomputes.

A step runs its function and the module code carried with it; a name none of them defines
(and that is no builtin, and no star import of the file binds) fails with NameError when the step
runs, long after the build.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Collection, Iterable

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.parse import decorator_kind
from pipec.compiler.source import SourceModule
from pipec.compiler.star_imports import StarImports
from pipec.compiler.trusted_stars import TrustedReads, known_names

__all__ = ["check_step_names"]

# Names every module has, that libcst does not count as builtins.
_MODULE_NAMES = frozenset(
    {"__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__"}
)
# Calls whose result differs in every process that imports the module.
_PER_PROCESS = (
    "random.",
    "numpy.random.",
    "uuid.",
    "time.time",
    "time.perf_counter",
    "time.monotonic",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
    "os.getpid",
    "secrets.",
)


def check_step_names(
    source: SourceModule,
    function: cst.FunctionDef,
    carried: Iterable[int],
    stars: StarImports,
    reporter: Reporter,
    user: str,
    trusted: TrustedReads,
    late: Collection[str] = (),
) -> None:
    """Report a name the step's script reads that nothing defines; record in `trusted` the
    names only an installed package's star import could define. `late` names are bound after
    the `__main__` block, which PC028 reports as the cause."""
    statements = [source.module.body[i] for i in carried]
    _undefined(source, [function, *statements], stars, reporter, trusted, late)
    for statement in statements:
        _per_process(source, statement, reporter, user)


def _undefined(
    source: SourceModule,
    nodes: list[cst.BaseStatement],
    stars: StarImports,
    reporter: Reporter,
    trusted: TrustedReads,
    late: Collection[str],
) -> None:
    for node in nodes:
        excluded: list[CodeRange] = []
        if isinstance(node, cst.FunctionDef):
            excluded = [
                source.positions[d]
                for d in node.decorators
                if decorator_kind(source, d) is not None
            ]
        for use in source.uses_within(source.extent(node), excluded):
            if use.scope is not None or use.builtin or use.name in _MODULE_NAMES:
                continue
            if use.name in late:
                continue
            if stars.defines(use.name):
                continue
            location = source.location(use.node)
            if stars.unread:
                # Could be any name of the package; one warning lists what was taken on trust.
                trusted.add(
                    use.name,
                    location,
                    known_names(stars.read, _visible(source, use.node, with_builtins=False)),
                )
                continue
            if stars.missing:
                reporter.report_once(
                    f"star-import-not-found:{use.name}",
                    rules.STAR_IMPORT_NOT_FOUND,
                    location,
                    name=use.name,
                    module=stars.missing[0],
                )
                continue
            hiding = stars.leaving_out(use.name)
            if hiding is not None:
                reporter.report(rules.LEFT_OUT_OF_ALL, location, name=use.name, module=hiding)
                continue
            # A module-level read above the name's own binding must not suggest the name itself.
            visible = {*_visible(source, use.node), *stars.exported()} - {use.name}
            close = difflib.get_close_matches(use.name, sorted(visible), n=1, cutoff=0.75)
            reporter.report(
                rules.UNDEFINED_NAME_IN_STEP,
                location,
                name=use.name,
                suggestion=f"; did you mean `{close[0]}`?" if close else "",
            )


def _visible(source: SourceModule, node: cst.Name, with_builtins: bool = True) -> list[str]:
    names = set(source.global_bindings())
    if with_builtins:
        names |= {n for n in dir(builtins) if not n.startswith("_")}
    scope = source.scopes.get(node)
    while scope is not None and scope is not source.global_scope:
        names |= {a.name for a in scope.assignments}
        scope = getattr(scope, "parent", None)
    return sorted(names)


def _per_process(
    source: SourceModule, statement: cst.BaseStatement, reporter: Reporter, user: str
) -> None:
    if not isinstance(statement, cst.SimpleStatementLine):
        return
    for small in statement.body:
        if not isinstance(small, (cst.Assign, cst.AnnAssign)) or small.value is None:
            continue
        for call in _calls(small.value):
            names = source.qualified_names(call.func)
            found = sorted(n for n in names if n.startswith(_PER_PROCESS))
            if found:
                reporter.report_once(
                    f"per-process:{source.location(small).line}",
                    rules.PER_PROCESS_MODULE_VALUE,
                    source.location(small),
                    user=user,
                    call=found[0],
                )
                break


def _calls(expr: cst.BaseExpression) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            found.append(node)

    expr.visit(_Finder())
    return found
