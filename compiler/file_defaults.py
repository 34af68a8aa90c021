"""Pipeline parameter defaults built from `__file__`, folded with the path the file is built at.

`base_config: str = str(Path(__file__).resolve().parent.parent / "run_config.yaml")` is a plain
string once `__file__` is known, and the build knows it (the same path every script reads, see
`file_reads`). The path operations folded here are the lexical ones (`Path(...)`, `/`,
`.parent`, `.parents[n]`, `.name`, `.stem`, `.suffix`, `.with_name`, `.with_suffix`,
`.joinpath`, `os.path.join/dirname/basename/splitext/normpath`, `str`, `os.fspath`, f-strings)
and `.resolve()` / `os.path.realpath` / `.absolute()` / `os.path.abspath` where the answer is
known without looking at the disk again: on the file itself, or on a folder above it when no
part of its path is a symlink. Anything else is left unknown, and the caller says why.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import libcst as cst

from pipec.compiler.fold import fold
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.source import SourceModule

__all__ = ["BuildPlace", "FileDefault", "fold_file_default", "holds_path"]


@dataclass(frozen=True)
class BuildPlace:
    """Where the pipeline file sits on the build host, as plain Python would name it.

    ``path`` is absolute, as `__file__` is when Python runs the file; ``real_path`` is the same
    with symlinks resolved (what `Path(__file__).resolve()` gives), when the caller knows it.
    """

    path: str
    real_path: str | None = None


_PATH_CLASSES = frozenset(
    {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"}
)
_TO_TEXT = frozenset({"os.fspath"})
_LEXICAL_METHODS: dict[str, Callable[..., Any]] = {
    "joinpath": PurePosixPath.joinpath,
    "with_name": PurePosixPath.with_name,
    "with_suffix": PurePosixPath.with_suffix,
    "with_stem": PurePosixPath.with_stem,
    "as_posix": PurePosixPath.as_posix,
}
_PROPERTIES = frozenset({"parent", "parents", "name", "stem", "suffix"})


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, PurePosixPath) else value


_OS_PATH: dict[str, Callable[..., Any]] = {
    "os.path.join": lambda *parts: posixpath.join(*map(_text, parts)),
    "os.path.dirname": lambda p: posixpath.dirname(_text(p)),
    "os.path.basename": lambda p: posixpath.basename(_text(p)),
    "os.path.splitext": lambda p: posixpath.splitext(_text(p)),
    "os.path.normpath": lambda p: posixpath.normpath(_text(p)),
}


@dataclass(frozen=True)
class FileDefault:
    """A default's value with `__file__` known (NOT_LITERAL when it does not fold)."""

    value: Any
    reads_file: bool


def holds_path(value: Any) -> bool:
    """Whether a Path object is (in) the value: the manifest has no literal for one."""
    if isinstance(value, PurePosixPath):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_path(item) for item in value)
    if isinstance(value, dict):
        return any(holds_path(k) or holds_path(v) for k, v in value.items())
    return False


def fold_file_default(
    source: SourceModule, expr: cst.BaseExpression, place: BuildPlace
) -> FileDefault:
    """The value of a default expression that may be built from `__file__` (through constants)."""
    folder = _PathFolder(source, place)
    try:
        value = folder.value(expr)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, IndexError):
        value = NOT_LITERAL
    if value is not NOT_LITERAL and not _plain(value):
        value = NOT_LITERAL  # `Path(__file__).parents` alone: no literal says what it is
    return FileDefault(value, folder.read_file)


def _plain(value: Any) -> bool:
    """Whether the value is made of what a literal holds, or of paths (refused by the caller)."""
    if value is None or isinstance(value, (str, int, float, complex, bytes, PurePosixPath)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


class _PathFolder:
    def __init__(self, source: SourceModule, place: BuildPlace) -> None:
        self._source = source
        self._place = place
        self._resolving: set[str] = set()
        self.read_file = False

    def value(self, expr: cst.BaseExpression) -> Any:
        if isinstance(expr, cst.Name):
            return self.lookup(expr.value)
        if isinstance(expr, cst.Call):
            return self._call(expr)
        if isinstance(expr, cst.Attribute):
            receiver = self.value(expr.value)
            if isinstance(receiver, PurePosixPath) and expr.attr.value in _PROPERTIES:
                return getattr(receiver, expr.attr.value)
            return NOT_LITERAL
        if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, (cst.Divide, cst.Add)
        ):
            left, right = self.value(expr.left), self.value(expr.right)
            if left is NOT_LITERAL or right is NOT_LITERAL:
                return NOT_LITERAL
            return left / right if isinstance(expr.operator, cst.Divide) else left + right
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr)
        if isinstance(expr, cst.FormattedString):
            return self._fstring(expr)
        if isinstance(expr, (cst.List, cst.Tuple)):
            items = [
                NOT_LITERAL if isinstance(e, cst.StarredElement) else self.value(e.value)
                for e in expr.elements
            ]
            if any(item is NOT_LITERAL for item in items):
                return NOT_LITERAL
            return items if isinstance(expr, cst.List) else tuple(items)
        return fold(expr, self.lookup)

    def lookup(self, name: str) -> Any:
        """A name's value: `__file__`, or a module-level name one plain assignment binds."""
        if name == "__file__":
            self.read_file = True
            return self._place.path
        indices = self._source.global_bindings().get(name, [])
        if len(indices) != 1 or name in self._resolving:
            return NOT_LITERAL
        statement = self._source.module.body[indices[0]]
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return NOT_LITERAL
        small = statement.body[0]
        if isinstance(small, cst.AnnAssign):
            target, assigned = small.target, small.value
        elif isinstance(small, cst.Assign) and len(small.targets) == 1:
            target, assigned = small.targets[0].target, small.value
        else:
            return NOT_LITERAL
        if not isinstance(target, cst.Name) or target.value != name or assigned is None:
            return NOT_LITERAL
        self._resolving.add(name)
        try:
            return self.value(assigned)
        finally:
            self._resolving.discard(name)

    def _arguments(self, call: cst.Call) -> list[Any] | None:
        values = []
        for arg in call.args:
            if arg.star or arg.keyword is not None:
                return None
            value = self.value(arg.value)
            if value is NOT_LITERAL:
                return None
            values.append(value)
        return values

    def _call(self, call: cst.Call) -> Any:
        names = self._source.qualified_names(call.func)
        if isinstance(call.func, cst.Attribute) and not names & {*_PATH_CLASSES, *_OS_PATH}:
            receiver = self.value(call.func.value)
            if isinstance(receiver, PurePosixPath):
                return self._path_method(receiver, call.func.attr.value, call)
        if names & (_PATH_CLASSES | _TO_TEXT | {*_OS_PATH, "os.path.realpath", "os.path.abspath"}):
            args = self._arguments(call)
            if args is None or not all(isinstance(a, (str, PurePosixPath)) for a in args):
                return NOT_LITERAL
            if names & _PATH_CLASSES:
                return PurePosixPath(*args)
            if names & _TO_TEXT:
                return _text(args[0]) if len(args) == 1 else NOT_LITERAL
            if names & {"os.path.realpath", "os.path.abspath"}:
                if len(args) != 1:
                    return NOT_LITERAL
                absolute = self._absolute(PurePosixPath(args[0]), "os.path.realpath" in names)
                return NOT_LITERAL if absolute is NOT_LITERAL else posixpath.normpath(absolute)
            (function,) = (_OS_PATH[n] for n in sorted(names & set(_OS_PATH)))
            return function(*args)
        if (
            isinstance(call.func, cst.Name)
            and call.func.value == "str"
            and "str" not in self._source.global_bindings()
        ):
            args = self._arguments(call)
            if args is not None and len(args) == 1 and isinstance(args[0], PurePosixPath):
                return str(args[0])
        return fold(call, self.lookup)

    def _path_method(self, receiver: PurePosixPath, method: str, call: cst.Call) -> Any:
        args = self._arguments(call)
        if args is None:
            return NOT_LITERAL
        if method in ("resolve", "absolute") and not args:
            return self._absolute(receiver, method == "resolve")
        if method in _LEXICAL_METHODS:
            return _LEXICAL_METHODS[method](receiver, *args)
        return NOT_LITERAL

    def _absolute(self, path: PurePosixPath, resolve: bool) -> Any:
        """`path` made absolute, and with its symlinks resolved when asked, if that is known."""
        if not path.is_absolute():
            return NOT_LITERAL  # relative to the directory of the process: not known here
        if not resolve:
            return path
        real = self._place.real_path
        if real is None:
            return NOT_LITERAL
        file = PurePosixPath(self._place.path)
        if path == file:
            return PurePosixPath(real)
        # When the file's own path holds no symlink, neither does any folder above it.
        if real == self._place.path and path in file.parents:
            return path
        return NOT_LITERAL

    def _subscript(self, expr: cst.Subscript) -> Any:
        """`parts[0]`, `Path(__file__).parents[1]`, `os.path.splitext(...)[0]`."""
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return NOT_LITERAL
        container = self.value(expr.value)
        key = self.value(expr.slice[0].slice.value)
        if container is NOT_LITERAL or key is NOT_LITERAL:
            return NOT_LITERAL
        return container[key]

    def _fstring(self, expr: cst.FormattedString) -> Any:
        if "r" not in expr.prefix.lower() and any(
            isinstance(p, cst.FormattedStringText) and "\\" in p.value for p in expr.parts
        ):
            return NOT_LITERAL  # escapes: leave them to Python rather than decode them here
        pieces: list[str] = []
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                pieces.append(part.value.replace("{{", "{").replace("}}", "}"))
                continue
            if (
                not isinstance(part, cst.FormattedStringExpression)
                or part.conversion is not None
                or part.format_spec is not None
                or part.equal is not None
            ):
                return fold(expr, self.lookup)
            value = self.value(part.expression)
            if not isinstance(value, (str, PurePosixPath, int)) or isinstance(value, bool):
                return fold(expr, self.lookup)
            pieces.append(str(value))
        return "".join(pieces)
