"""The pipeline file's neighbours on disk: local modules and requirement files, found on demand.

Python finds a pipeline's own modules beside the file, and ClearML runs steps from the
repository's root; so a module is looked for in the pipeline's folder, then in each folder
above it up to the project root (the nearest folder holding `.git` or `pyproject.toml`), and
in the `src/` folder of each of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipec.compiler.local_modules import LocalModule

__all__ = ["DirectoryProject", "project_root"]

_ROOT_MARKERS = (".git", "pyproject.toml")


def project_root(folder: Path) -> Path:
    """The nearest folder at or above `folder` that holds `.git` or `pyproject.toml`, else `folder`."""
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    return folder


class DirectoryProject:
    """The folder of the pipeline file and the project around it, read on demand."""

    def __init__(self, root: Path, exclude: Path) -> None:
        self.root = root
        self.exclude = exclude.resolve()
        self.top = project_root(root.resolve())

    def _search_path(self) -> list[Path]:
        folders: list[Path] = []
        here = self.root.resolve()
        for folder in (here, *here.parents):
            folders += [folder, folder / "src"]
            if folder == self.top:
                break
        else:  # the pipeline's folder is not under its project root: only look beside it
            folders = [here, here / "src"]
        return [f for f in folders if f.is_dir()]

    def local_module(self, name: str) -> LocalModule | None:
        for folder in self._search_path():
            found = self._module_in(folder, name)
            if found is not None:
                return found
        return None

    def _module_in(self, folder: Path, name: str) -> LocalModule | None:
        single = folder / f"{name}.py"
        if single.is_file() and single.resolve() != self.exclude:
            text = single.read_text(encoding="utf-8")
            return LocalModule(name, ((single.name, text),), str(folder))
        package = folder / name
        if not package.is_dir():
            return None
        files = []
        for file in sorted(package.rglob("*.py")):
            relative = file.relative_to(folder)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            if file.resolve() == self.exclude:
                continue
            files.append((relative.as_posix(), file.read_text(encoding="utf-8")))
        # A folder of modules without __init__.py is a namespace package: importable all the same.
        return LocalModule(name, tuple(files), str(folder)) if files else None

    def read_text(self, relative: str) -> str | None:
        path = self.root / relative
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def repository_file(self, name: str) -> tuple[str, str] | None:
        """(path relative to the pipeline's folder, text) of `name` beside the pipeline or at the root."""
        for folder in dict.fromkeys((self.root.resolve(), self.top)):
            path = folder / name
            if path.is_file():
                shown = Path(os.path.relpath(path, self.root.resolve())).as_posix()
                return shown, path.read_text(encoding="utf-8")
        return None
