"""Names the controller reads that only a module-level `from M import *` can define.

Every script carries the file's star imports, so such a name works at run time when `M` defines
it. pipec checks what it can without running anything: a module of the project is read with
`ast` for the names its star exports; the standard library and installed packages are trusted;
a module found nowhere is named in a warning, since the name can come from nothing else.
"""

from __future__ import annotations

import ast
import difflib
import sys
from collections.abc import Sequence

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.local_modules import ProjectFiles
from pipec.compiler.requirements import Environment
from pipec.compiler.source import SourceModule
from pipec.manifest import Location

__all__ = ["check_star_reads", "star_modules"]


def star_modules(source: SourceModule) -> tuple[str, ...]:
    """The modules of the file's module-level, absolute `from M import *` lines, in order."""
    found: list[str] = []
    for statement in source.module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (
                isinstance(small, cst.ImportFrom)
                and isinstance(small.names, cst.ImportStar)
                and not small.relative
                and small.module is not None
            ):
                found.append(source.code(small.module))
    return tuple(found)


def check_star_reads(
    source: SourceModule,
    reads: Sequence[tuple[str, Location]],
    project: ProjectFiles,
    environment: Environment,
    reporter: Reporter,
) -> None:
    modules = star_modules(source)
    exported = {m: _exports(m, project, environment) for m in modules}
    for name, location in reads:
        if any(names is None or name in names for names in exported.values()):
            continue  # a trusted module, or a project module that defines it
        missing = [m for m, names in exported.items() if names is _MISSING]
        if missing:
            reporter.report(rules.STAR_IMPORT_NOT_FOUND, location, name=name, module=missing[0])
            continue
        known = sorted(set().union(*(n for n in exported.values() if n is not None)))
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        reporter.report(
            rules.NOT_DEFINED_BY_STAR_IMPORT,
            location,
            name=name,
            modules=", ".join(f"`{m}`" for m in modules),
            suggestion=f"; did you mean `{close[0]}`?" if close else "",
        )


# A module found nowhere: it defines nothing pipec can see. (Not `frozenset()`, which is one
# object with every other empty frozenset.)
_MISSING: frozenset[str] = frozenset({"<missing>"})


def _exports(module: str, project: ProjectFiles, environment: Environment) -> frozenset[str] | None:
    """The names `from module import *` binds, None when pipec trusts it to bind any name."""
    top = module.split(".")[0]
    local = project.local_module(top)
    if local is not None:
        wanted = {module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"}
        for relative, text in local.files:
            if relative in wanted:
                return _star_names(relative, text)
        return None  # a module of the package pipec cannot read: trusted, as Python finds it
    if top in sys.stdlib_module_names or environment.distributions(top):
        return None
    return _MISSING


def _star_names(path: str, text: str) -> frozenset[str] | None:
    """`__all__` when it is a literal list, else the module's public top-level names."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError:
        return None  # reported where the module is copied into the build
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None  # its own star import may bring anything
        listed = _literal_all(node)
        if listed is not None:
            return listed
        names |= _bound_at_top(node)
    return frozenset(n for n in names if not n.startswith("_"))


def _literal_all(node: ast.stmt) -> frozenset[str] | None:
    """The names of `__all__ = [...]` written as a literal list or tuple of strings."""
    if not (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        and isinstance(node.value, (ast.List, ast.Tuple))
    ):
        return None
    names = [
        e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
    ]
    return frozenset(names) if len(names) == len(node.value.elts) else None


def _bound_at_top(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    elif isinstance(node, (ast.For, ast.With, ast.If, ast.Try)):
        # Names bound under a statement at the top level are module names too.
        return {
            child.id
            for child in ast.walk(node)
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
        } | {
            child.name
            for child in ast.walk(node)
            if isinstance(child, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        }
    return {
        child.id
        for target in targets
        for child in ast.walk(target)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
    }
