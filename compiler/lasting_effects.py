"""Module-level setup whose effect outlives the process, which no script may run again.

Every script of a build runs the module-level setup, because plain Python ran it before any
step: right for `random.seed(1)` or `os.environ["X"] = "1"`, whose effect ends with the process
and comes out the same however often it runs. A call whose effect lands outside the process
(a file appended to, a folder deleted, a command run, a row inserted) would then happen once
per script where Python makes it happen once; and a call that fails when repeated
(`os.mkdir(OUT)`, `open(P, "x")`) would fail in the second script. Such calls are found here,
in the statement itself or in the file's own functions it calls, unless the statement proves
them harmless: `exist_ok=True`, mode `"w"`, or a test that the path does not exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import RunsWithStatement

__all__ = [
    "LastingEffect",
    "lasting_effect",
    "report_lasting_effects",
    "report_prints_to_files",
]


@dataclass(frozen=True)
class LastingEffect:
    """A call that would happen once per script, what it does and how to make it safe."""

    call: cst.Call
    does: str  # "appends to a file", ...
    instead: str  # the idempotent form, or where to move it


_MOVE = "move it into the controller's body (its code runs once) or into the first step"
_EXIST_OK = (
    "add `exist_ok=True`, which makes it do nothing when the path is already there; or " + _MOVE
)

# Functions found by their qualified name: what each does when called again.
_DELETES = {
    "os.remove",
    "os.unlink",
    "os.rmdir",
    "os.removedirs",
    "shutil.rmtree",
    "os.rename",
    "os.renames",
    "os.replace",
    "shutil.move",
}
_RUNS_COMMAND = {
    "os.system",
    "os.popen",
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
}
_LINKS = {"os.symlink", "os.link", "os.mkfifo", "os.mknod"}
# HTTP methods that change something on the server; GET and HEAD only read.
_SENDS = {"post", "put", "patch", "delete", "request"}
_HTTP_CLIENTS = {"requests", "httpx"}
# Path methods, found by name: no other common type has them.
_PATH_DELETES = {"unlink", "rmdir", "symlink_to", "hardlink_to"}
_SQL_WRITES = ("insert", "update", "delete", "drop", "alter", "replace", "create")
_SQL_IDEMPOTENT = ("create table if not exists", "create index if not exists", "insert or ignore")


def _keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    for argument in call.args:
        if argument.keyword is not None and argument.keyword.value == name:
            return argument.value
    return None


def _is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def _literal(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _mode(call: cst.Call, position: int) -> cst.BaseExpression | None:
    """The `mode` argument of an `open`-like call, by keyword or at `position`."""
    keyword = _keyword(call, "mode")
    if keyword is not None:
        return keyword
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[position].value if len(positional) > position else None


def _opening(call: cst.Call, position: int) -> LastingEffect | None:
    mode = _mode(call, position)
    if mode is None:
        return None  # reading
    text = _literal(mode)
    if text is None:
        return LastingEffect(
            call,
            "opens a file in a mode pipec cannot read",
            f"write the mode as a literal, or {_MOVE}",
        )
    if "a" in text:
        return LastingEffect(
            call,
            "appends to a file",
            f'{_MOVE}, or open it with mode "w", which writes the same file each time',
        )
    if "x" in text:
        return LastingEffect(
            call,
            "creates a file that must not exist yet",
            f'{_MOVE}, or open it with mode "w", which writes the same file each time',
        )
    return None


def _effect_of(source: SourceModule, call: cst.Call) -> LastingEffect | None:
    """What this one call does that a second run would repeat or break, if anything."""
    names = source.qualified_names(call.func)
    if "builtins.open" in names or "io.open" in names:
        return _opening(call, 1)
    if names & _DELETES:
        return LastingEffect(call, "deletes or moves files", _MOVE)
    if names & _RUNS_COMMAND or any(n.startswith(("os.exec", "os.spawn")) for n in names):
        return LastingEffect(call, "runs a command", _MOVE)
    if names & _LINKS:
        return LastingEffect(call, "creates a file that must not exist yet", _MOVE)
    if any(n.split(".")[0] in _HTTP_CLIENTS and n.split(".")[-1] in _SENDS for n in names):
        return LastingEffect(call, "sends a request that changes something on a server", _MOVE)
    if "os.mkdir" in names:
        return LastingEffect(
            call,
            "creates a folder and fails if it exists",
            "call `os.makedirs(..., exist_ok=True)` instead, which does nothing when the folder is there, or "
            + _MOVE,
        )
    if "os.makedirs" in names and not _is_true(_keyword(call, "exist_ok")):
        return LastingEffect(call, "creates a folder and fails if it exists", _EXIST_OK)
    if not isinstance(call.func, cst.Attribute):
        return None
    method = call.func.attr.value
    if method in _PATH_DELETES:
        return LastingEffect(call, "deletes or links files", _MOVE)
    if method == "mkdir" and not _is_true(_keyword(call, "exist_ok")):
        return LastingEffect(call, "creates a folder and fails if it exists", _EXIST_OK)
    if method == "touch":
        exist_ok = _keyword(call, "exist_ok")
        if exist_ok is not None and not _is_true(exist_ok):
            return LastingEffect(call, "creates a file that must not exist yet", _EXIST_OK)
    if method == "open" and any(n.startswith("pathlib.") for n in _root_names(source, call)):
        return _opening(call, 0)
    if method in {"execute", "executemany", "executescript"} and call.args:
        sql = (_literal(call.args[0].value) or "").strip().lower()
        if sql.startswith(_SQL_WRITES) and not sql.startswith(_SQL_IDEMPOTENT):
            return LastingEffect(call, "writes to a database", _MOVE)
    return None


def _root_names(source: SourceModule, call: cst.Call) -> frozenset[str]:
    node: cst.BaseExpression = call.func
    while isinstance(node, cst.Attribute | cst.Call | cst.Subscript):
        node = node.func if isinstance(node, cst.Call) else node.value
    return source.qualified_names(node)


def _append_handles(module: cst.Module) -> set[str]:
    """Module-level names bound to a file opened for appending (`LOG = open(P, "a")`)."""
    found: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.Assign) or not isinstance(small.value, cst.Call):
                continue
            mode = _literal(_mode(small.value, 1))
            if mode is not None and "a" in mode:
                found.update(
                    t.target.value for t in small.targets if isinstance(t.target, cst.Name)
                )
    return found


class _Finder(RunsWithStatement):
    def __init__(
        self,
        source: SourceModule,
        functions: dict[str, cst.FunctionDef],
        handles: set[str],
        entered: set[str],
        top: bool,
    ) -> None:
        self.source = source
        self.functions = functions
        self.handles = handles
        self.entered = entered
        self.top = top
        self.tolerating = 0  # inside `try:` bodies whose handlers catch FileExistsError
        self.found: LastingEffect | None = None

    def visit_If(self, node: cst.If) -> bool:
        # `if not os.path.exists(P): make(P)` does its work only the first time.
        if _tests_absence(node.test):
            if node.orelse is not None:
                node.orelse.visit(self)
            return False
        return True

    def visit_Try(self, node: cst.Try) -> bool:
        # `try: os.mkdir(OUT)` / `except FileExistsError: pass` creates it only the first time.
        tolerant = any(_catches_existing(self.source, handler) for handler in node.handlers)
        self.tolerating += tolerant
        node.body.visit(self)
        self.tolerating -= tolerant
        for part in (*node.handlers, node.orelse, node.finalbody):
            if part is not None:
                part.visit(self)
        return False

    def visit_Assign(self, node: cst.Assign) -> bool:
        # `LOG = open(P, "a")` only opens the file; what is written to it is looked at apart.
        if self.top and isinstance(node.value, cst.Call) and _opens(self.source, node.value):
            effect = _effect_of(self.source, node.value)
            if effect is not None and effect.does == "appends to a file":
                for argument in node.value.args:
                    argument.visit(self)
                return False
        return True

    def visit_Call(self, node: cst.Call) -> None:
        if self.found is not None:
            return
        self.found = _effect_of(self.source, node) or self._writes_handle(node)
        if self.found is not None and self.tolerating and self.found.does in _FAILS_IF_THERE:
            self.found = None
        if self.found is None and isinstance(node.func, cst.Name):
            name = node.func.value
            if name in self.functions and name not in self.entered:
                self.entered.add(name)
                inner = _Finder(self.source, self.functions, self.handles, self.entered, False)
                self.functions[name].body.visit(inner)
                if inner.found is not None and not self.top:
                    self.found = inner.found  # the top call names where it happens
                elif inner.found is not None:
                    # Point at the call in the statement the user sees at module level.
                    line = self.source.location(inner.found.call).line
                    does = f"{inner.found.does} (line {line}, reached through `{name}`)"
                    self.found = LastingEffect(node, does, inner.found.instead)

    def _writes_handle(self, call: cst.Call) -> LastingEffect | None:
        receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
        writes = (
            isinstance(call.func, cst.Attribute)
            and call.func.attr.value in {"write", "writelines"}
            and isinstance(receiver, cst.Name)
            and receiver.value in self.handles
        )
        target = _keyword(call, "file")
        prints = (
            isinstance(call.func, cst.Name)
            and call.func.value == "print"
            and isinstance(target, cst.Name)
            and target.value in self.handles
        )
        if writes or prints:
            return LastingEffect(call, "appends to a file", _MOVE)
        return None


_FAILS_IF_THERE = {
    "creates a folder and fails if it exists",
    "creates a file that must not exist yet",
}
_CATCHING_EXISTING = {
    "builtins.FileExistsError",
    "builtins.OSError",
    "builtins.IOError",
    "builtins.EnvironmentError",
    "builtins.Exception",
    "builtins.BaseException",
}


def _catches_existing(source: SourceModule, handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    caught = handler.type.elements if isinstance(handler.type, cst.Tuple) else None
    types = [e.value for e in caught] if caught is not None else [handler.type]
    return any(source.qualified_names(t) & _CATCHING_EXISTING for t in types)


def _opens(source: SourceModule, call: cst.Call) -> bool:
    names = source.qualified_names(call.func)
    return "builtins.open" in names or "io.open" in names


def _tests_absence(test: cst.BaseExpression) -> bool:
    """`not os.path.exists(P)`, `not P.exists()`, `not os.path.isfile(P)` and the like."""
    if not isinstance(test, cst.UnaryOperation) or not isinstance(test.operator, cst.Not):
        return False
    inner = test.expression
    return (
        isinstance(inner, cst.Call)
        and isinstance(inner.func, cst.Attribute)
        and inner.func.attr.value in {"exists", "isfile", "isdir", "is_file", "is_dir"}
    )


def lasting_effect(
    source: SourceModule, statement: cst.CSTNode, handles: set[str]
) -> LastingEffect | None:
    """The first call in a module-level statement that every script would run again with an
    effect outside its process, or that fails when run again; None when there is none."""
    functions = {s.name.value: s for s in source.module.body if isinstance(s, cst.FunctionDef)}
    finder = _Finder(source, functions, handles, set(), True)
    statement.visit(finder)
    return finder.found


def report_lasting_effects(
    source: SourceModule, carried: list[cst.CSTNode], reporter: Reporter
) -> None:
    """Refuse each carried module-level statement that would repeat an effect outside the
    process once per script."""
    handles = _append_handles(source.module)
    for statement in carried:
        effect = lasting_effect(source, statement, handles)
        if effect is None:
            continue
        where = source.location(statement)
        reporter.report_once(
            f"setup-with-lasting-effect:{where.line}",
            rules.SETUP_WITH_LASTING_EFFECT,
            source.location(effect.call),
            call=source.code(effect.call.func) + "(...)",
            does=effect.does,
            line=where.line,
            instead=effect.instead,
        )


class _PrintsToFiles(RunsWithStatement):
    def __init__(self, source: SourceModule) -> None:
        self.source = source
        self.found: list[tuple[cst.Call, cst.BaseExpression]] = []

    def visit_Call(self, node: cst.Call) -> None:
        target = _keyword(node, "file")
        if (
            target is not None
            and "builtins.print" in self.source.qualified_names(node.func)
            and not self.source.qualified_names(target) & {"sys.stdout", "sys.stderr"}
            and not (isinstance(target, cst.Name) and target.value == "None")
        ):
            self.found.append((node, target))


def report_prints_to_files(
    source: SourceModule, statements: list[cst.CSTNode], reporter: Reporter
) -> None:
    """Refuse a module-level `print(..., file=f)`: the scripts leave module-level prints out
    (they belong to no step), which would lose what Python writes to the file."""
    for statement in statements:
        finder = _PrintsToFiles(source)
        statement.visit(finder)
        for call, target in finder.found:
            where = source.location(call)
            reporter.report_once(
                f"module-print-to-file:{where.line}:{where.column}",
                rules.MODULE_PRINT_TO_FILE,
                where,
                target=source.code(target),
            )
