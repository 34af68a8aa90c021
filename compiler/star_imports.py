"""What a file's module-level `from M import *` lines bind, read without running the user's code.

Every script carries the file's star imports, so a name the controller or a step reads works at
run time when `M` defines it. pipec checks what it can: a module of the project is read with
`ast` for the names its star exports; a standard-library module is imported (it is part of the
interpreter, not the user's code) and its real public names taken; an installed package is
trusted, since importing it would run third-party code; a module found nowhere is named in a
warning, since the name can come from nothing else.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib
import importlib.util
import io
import os
import sys
import sysconfig
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.local_modules import ProjectFiles
from pipec.compiler.requirements import Environment
from pipec.compiler.source import SourceModule
from pipec.compiler.trusted_stars import TrustedReads, known_names
from pipec.manifest import Location

__all__ = ["StarImports", "check_star_reads", "read_star_imports", "star_modules"]


@dataclass(frozen=True)
class StarImports:
    """The file's star-imported modules, sorted by how much pipec knows of what they bind."""

    modules: tuple[str, ...]
    read: Mapping[str, frozenset[str]]  # module -> the names its star binds
    unread: tuple[str, ...]  # installed, or a project module pipec cannot read: may bind anything
    missing: tuple[str, ...]  # found nowhere: binds nothing pipec can see
    # module of the project -> the names it binds at its top level that its `__all__` leaves out
    left_out: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def defines(self, name: str) -> bool:
        return any(name in names for names in self.read.values())

    def leaving_out(self, name: str) -> str | None:
        """The first star-imported module that defines `name` but whose `__all__` omits it."""
        return next((m for m, names in self.left_out.items() if name in names), None)

    def exported(self) -> frozenset[str]:
        return frozenset().union(*self.read.values())


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


def read_star_imports(
    source: SourceModule, project: ProjectFiles, environment: Environment
) -> StarImports:
    modules = star_modules(source)
    exports = {m: _exports(m, project, environment) for m in modules}
    left_out = {m: _left_out(m, project) for m in modules}
    return StarImports(
        modules=modules,
        read={m: n for m, n in exports.items() if n is not None and n is not _MISSING},
        unread=tuple(m for m, n in exports.items() if n is None),
        missing=tuple(m for m, n in exports.items() if n is _MISSING),
        left_out={m: n for m, n in left_out.items() if n},
    )


def check_star_reads(
    stars: StarImports,
    reads: Sequence[tuple[str, Location]],
    reporter: Reporter,
    trusted: TrustedReads,
) -> None:
    """Report the names the controller reads that no star import can be seen to bind; record in
    `trusted` those only an installed package's star import could bind."""
    for name, location in reads:
        if stars.defines(name):
            continue
        if stars.unread:
            trusted.add(name, location, known_names(stars.read, ()))
            continue
        if stars.missing:
            reporter.report(
                rules.STAR_IMPORT_NOT_FOUND, location, name=name, module=stars.missing[0]
            )
            continue
        hiding = stars.leaving_out(name)
        if hiding is not None:
            reporter.report(rules.LEFT_OUT_OF_ALL, location, name=name, module=hiding)
            continue
        close = difflib.get_close_matches(name, sorted(stars.exported()), n=1, cutoff=0.75)
        reporter.report(
            rules.NOT_DEFINED_BY_STAR_IMPORT,
            location,
            name=name,
            modules=", ".join(f"`{m}`" for m in stars.modules),
            suggestion=f"; did you mean `{close[0]}`?" if close else "",
        )


# A module found nowhere: it defines nothing pipec can see. (Not `frozenset()`, which is one
# object with every other empty frozenset.)
_MISSING: frozenset[str] = frozenset({"<missing>"})

# Standard-library modules whose import does something visible (prints, opens a browser) or
# starts a GUI toolkit; pipec trusts them rather than importing them while it builds.
_NOT_IMPORTED = frozenset({"this", "antigravity", "__hello__", "__phello__", "idlelib", "turtle"})


def _local_text(module: str, project: ProjectFiles) -> tuple[str, str] | None:
    """(relative path, text) of `module` when it is a readable module of the project."""
    local = project.local_module(module.split(".")[0])
    if local is None:
        return None
    wanted = {module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"}
    return next(((r, text) for r, text in local.files if r in wanted), None)


def _left_out(module: str, project: ProjectFiles) -> frozenset[str]:
    """The names a project module binds at its top level that its literal `__all__` omits."""
    found = _local_text(module, project)
    if found is None:
        return frozenset()
    try:
        tree = ast.parse(found[1], filename=found[0])
    except SyntaxError:
        return frozenset()
    listed: frozenset[str] | None = None
    bound: set[str] = set()
    for node in tree.body:
        found_all = _literal_all(node)
        listed = found_all if found_all is not None else listed
        bound |= _bound_at_top(node)
    return frozenset(bound - listed - {"__all__"}) if listed is not None else frozenset()


def _exports(module: str, project: ProjectFiles, environment: Environment) -> frozenset[str] | None:
    """The names `from module import *` binds, None when pipec trusts it to bind any name."""
    top = module.split(".")[0]
    if project.local_module(top) is not None:
        found = _local_text(module, project)
        # A module of the package pipec cannot read: trusted, as Python finds it.
        return _star_names(*found) if found is not None else None
    if top in sys.stdlib_module_names:
        return _standard_names(module)
    if environment.distributions(top):
        return None
    return _MISSING


def _standard_names(module: str) -> frozenset[str] | None:
    """What `from module import *` binds for a standard-library module, as Python computes it."""
    if module.split(".")[0] in _NOT_IMPORTED or not _found_in_standard_library(module):
        return None
    try:
        # A module that warns on import (deprecated) or prints must not reach the build's output.
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            imported = importlib.import_module(module)
    except Exception:  # not importable here (another platform's module): trusted
        return None
    listed = getattr(imported, "__all__", None)
    if isinstance(listed, (list, tuple)) and all(isinstance(n, str) for n in listed):
        return frozenset(listed)
    return frozenset(n for n in vars(imported) if not n.startswith("_"))


def _found_in_standard_library(module: str) -> bool:
    """Whether the import would load the interpreter's own module, and not a file of the user's
    that shadows it from the working folder (pipec never runs the user's code)."""
    top = module.split(".")[0]
    if top in sys.modules or top in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None:
        return False
    if spec.origin in ("built-in", "frozen"):
        return True
    origin = os.path.realpath(spec.origin)
    folders = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    return any(origin.startswith(os.path.realpath(f) + os.sep) for f in folders if f)


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
