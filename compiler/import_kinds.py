"""Where a name an `import` binds leads: a module, or a value inside one — read from disk,
never imported.

Every script of a build imports a module afresh, so a module is never a value the compiled
controller copies between processes: two controller names cannot come to "share" it the way
two names share a list. A name `from m import NAME` binds may be either a module (`from config
import config` with `config/config.py` on disk) or a value (`from config import LIMITS`): only a
module found on disk — beside the pipeline, in the standard library or in an installed
distribution's file list — counts as one; anything pipec cannot place stays a value.

A module's own list, dict or set (`LIMITS = [1, 2]` in a local module) is one object in Python
however it is reached (`from config import LIMITS`, `config.LIMITS`); each script of a build
has its own, so a change in place through the controller must be refused like a change of the
pipeline file's own module-level lists. pipec reads the local module's text to find them.
"""

from __future__ import annotations

import ast
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.local_modules import ProjectFiles
from pipec.compiler.requirements import Environment
from pipec.compiler.syntax import import_bound_name

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["ModulePlaces", "holds_module", "mutable_module_value"]


class ModulePlaces:
    """Answers "is this dotted path a module?" and "is it a local module's list, dict or set?"
    from files on disk, read on demand."""

    def __init__(self, project: ProjectFiles | None, environment: Environment | None) -> None:
        self._project = project
        self._environment = environment
        self._modules: dict[str, bool] = {}
        self._texts: dict[str, str | None] = {}

    def is_module(self, dotted: str) -> bool:
        if dotted not in self._modules:
            self._modules[dotted] = self._find(dotted)
        return self._modules[dotted]

    def _find(self, dotted: str) -> bool:
        top = dotted.partition(".")[0]
        if self._project is not None:
            local = self._project.local_module(top)
            if local is not None:
                # A local package hides an installed one of the same name, as on sys.path.
                stem = dotted.replace(".", "/")
                paths = [path for path, _ in local.files]
                return any(p == f"{stem}.py" or p.startswith(f"{stem}/") for p in paths)
        if top in sys.stdlib_module_names:
            base = Path(sysconfig.get_paths()["stdlib"]) / dotted.replace(".", "/")
            return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
        if self._environment is not None:
            return any(
                self._environment.provides(distribution, dotted)
                for distribution in self._environment.distributions(top)
            )
        return False

    def mutable_value(self, dotted: str) -> bool:
        """Whether `dotted` (`config.config.LIMITS`) is a name a local module binds at its top
        level to a list, dict or set it builds itself."""
        module, _, name = dotted.rpartition(".")
        text = self._text(module) if module else None
        if text is None:
            return False
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return False  # reported where the module is copied into the build
        return any(
            name in _names(targets) and _builds_container(value)
            for targets, value in _assignments(tree.body)
        )

    def _text(self, module: str) -> str | None:
        if module not in self._texts:
            self._texts[module] = None
            local = self._project.local_module(module.partition(".")[0]) if self._project else None
            if local is not None:
                stem = module.replace(".", "/")
                files = dict(local.files)
                self._texts[module] = files.get(f"{stem}.py", files.get(f"{stem}/__init__.py"))
        return self._texts[module]


def _assignments(body: Iterable[ast.stmt]) -> Iterable[tuple[list[ast.expr], ast.expr]]:
    for statement in body:
        if isinstance(statement, ast.Assign):
            yield statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            yield [statement.target], statement.value


def _names(targets: list[ast.expr]) -> set[str]:
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


_CONTAINERS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
_CONTAINER_CALLS = frozenset(["list", "dict", "set", "defaultdict", "OrderedDict", "Counter"])


def _builds_container(value: ast.expr) -> bool:
    if isinstance(value, _CONTAINERS):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        return called in _CONTAINER_CALLS
    return False


def _import_of(t: Context, name: str) -> cst.CSTNode | None:
    """The import statement `name` still holds the binding of, here in controller code."""
    if name in t.frame.env:
        line = t.imports.get(name)
        marker = t.import_markers.get(name)
        return line if marker is not None and t.frame.env[name] is marker else None
    bindings = [
        getattr(a, "node", None) for a in t.source.global_scope.assignments if a.name == name
    ]
    if len(bindings) != 1 or not isinstance(bindings[0], (cst.Import, cst.ImportFrom)):
        return None
    return bindings[0]


def _path(statement: cst.CSTNode, name: str) -> tuple[str, bool] | None:
    """(the dotted path `name` is imported from, whether `import` makes it surely a module)."""
    if isinstance(statement, cst.SimpleStatementLine):
        found = [_path(small, name) for small in statement.body]
        return next((f for f in found if f is not None), None)
    code = cst.Module([]).code_for_node
    if isinstance(statement, cst.Import):
        for alias in statement.names:
            if import_bound_name(alias) == name:
                # `import a.b` binds `a`; `import a.b as c` binds `a.b`
                path = code(alias.name) if alias.asname else name
                return path, True
        return None
    if not isinstance(statement, cst.ImportFrom) or isinstance(statement.names, cst.ImportStar):
        return None
    if statement.relative or statement.module is None:
        return None  # a package pipec cannot place
    for alias in statement.names:
        if import_bound_name(alias) == name:
            return f"{code(statement.module)}.{code(alias.name)}", False
    return None


def _place(t: Context, name: str) -> tuple[str, bool] | None:
    """(dotted path, whether a module) of what an import bound `name` to, if it still holds it."""
    statement = _import_of(t, name)
    found = _path(statement, name) if statement is not None else None
    if found is None or t.modules is None:
        return found
    path, surely = found
    return path, surely or t.modules.is_module(path)


def holds_module(t: Context, name: str) -> bool:
    """Whether controller code reading `name` here reads a module, imported afresh by every
    script (`import utils`, `from config import config` with `config/config.py` on disk)."""
    found = _place(t, name)
    return found is not None and found[1]


def mutable_module_value(t: Context, reached: str) -> bool:
    """Whether `reached` — an imported name (`LIMITS`) or an attribute of an imported module
    (`config.LIMITS`) — is a list, dict or set a local module builds at its top level."""
    root, _, attribute = reached.partition(".")
    found = _place(t, root)
    if found is None or t.modules is None:
        return False
    path, module = found
    if attribute:
        return module and t.modules.mutable_value(f"{path}.{attribute}")
    return not module and t.modules.mutable_value(path)
