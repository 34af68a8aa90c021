"""Local modules: the pipeline's own modules and packages beside it, found and read on demand.

A step that imports one gets a copy of it in the build; its own imports count towards the
step's requirements. Local modules are read with `ast`, never imported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.manifest import Location

__all__ = ["LocalIndex", "LocalModule", "ProjectFiles", "imports_of_source"]


@dataclass(frozen=True)
class LocalModule:
    """A module or package that sits next to the pipeline file."""

    name: str
    files: tuple[tuple[str, str], ...]  # (path relative to the pipeline's folder, text)
    # The absolute folder the files were read from on the build host, when known: the
    # `__file__` a copy of the module reads (docs/build-output.md).
    folder: str | None = None


class ProjectFiles(Protocol):
    """The pipeline file's neighbours, read on demand by the caller of `build`."""

    def local_module(self, name: str) -> LocalModule | None: ...

    def read_text(self, relative: str) -> str | None: ...

    def repository_file(self, name: str) -> tuple[str, str] | None: ...


def imports_of_source(path: str, text: str) -> frozenset[str]:
    """Absolute imports of the pipeline file itself, or none if `ast` cannot read it."""
    try:
        return frozenset(_imports_of_file(path, text))
    except SyntaxError:
        return frozenset()


def _imports_of_file(path: str, text: str) -> set[str]:
    """Absolute imports of a local module (read with `ast`; it is never run)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(text, filename=path)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(
                f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"
            )
    return modules


@dataclass
class LocalIndex:
    """The local modules a build has looked up so far, and what each of them imports."""

    project: ProjectFiles
    reporter: Reporter
    self_name: str  # the pipeline file's own module name: never a local module of itself
    found: dict[str, LocalModule | None] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)

    # Every dotted import of the pipeline file, and whether a distribution installed where pipec
    # builds provides a top-level name: both can show that a folder without `__init__.py` is not
    # the module the file imports.
    wanted: frozenset[str] = frozenset()
    installed: Callable[[str], bool] = lambda _name: False

    def lookup(self, name: str) -> LocalModule | None:
        if name not in self.found:
            module = None if name == self.self_name else self.project.local_module(name)
            if module is not None and self._loses_to_a_package(module):
                module = None
            self.found[name] = module
            if module is not None:
                modules: set[str] = set()
                for relative, text in module.files:
                    if relative.endswith(".py"):
                        try:
                            modules |= _imports_of_file(relative, text)
                        except SyntaxError as exc:
                            self.reporter.report(
                                rules.LOCAL_MODULE_SYNTAX_ERROR,
                                Location(relative, exc.lineno or 1, exc.offset or 1),
                                message=exc.msg,
                            )
                self.imports[name] = modules
        return self.found[name]

    def _loses_to_a_package(self, module: LocalModule) -> bool:
        """Whether Python would import something else than `module`, a folder of modules with
        no `__init__.py` (a namespace package): a regular package or module of the same name
        anywhere on the path wins over it, so an installed one does; and a namespace package
        holds only its files, so a file importing `name.sub` that it lacks means another one."""
        name = module.name
        paths = {relative for relative, _ in module.files}
        if f"{name}.py" in paths or f"{name}/__init__.py" in paths:
            return False
        if name in sys.stdlib_module_names or self.installed(name):
            return True
        for dotted in self.wanted:
            top, _, rest = dotted.partition(".")
            if top != name or not rest:
                continue
            sub = f"{name}/{rest.partition('.')[0]}"
            if f"{sub}.py" not in paths and not any(p.startswith(sub + "/") for p in paths):
                return True
        return False

    def closure(self, modules: set[str]) -> tuple[set[str], set[str]]:
        """(local module names needed, all absolute imports including those of the local modules)."""
        needed: set[str] = set()
        every = set(modules)
        pending = sorted({m.split(".")[0] for m in modules})
        while pending:
            top = pending.pop()
            if top in needed or self.lookup(top) is None:
                continue
            needed.add(top)
            for imported in self.imports[top]:
                every.add(imported)
                pending.append(imported.split(".")[0])
        return needed, every

    @property
    def known(self) -> set[str]:
        """Every name that turned out to be a local module."""
        return {name for name, module in self.found.items() if module is not None}

    def files(self, names: set[str]) -> list[tuple[str, str]]:
        """(path relative to the pipeline's folder, text) of the named local modules, sorted by name."""
        found: list[tuple[str, str]] = []
        for name in sorted(names):
            module = self.found[name]
            assert module is not None
            found.extend(module.files)
        return found
