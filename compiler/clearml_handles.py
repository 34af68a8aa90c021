"""Controller names that hold a ClearML client object (a Task, a Logger, a Dataset).

`task = Task.create(...)`, `logger = task.get_logger()` in the controller, then `task.logger...`
and `logger.report_scalar(...)` on both sides of a step call: in Python both names reach one
Task talking to the server. The compiled controller runs each block of controller code in a
process of its own and hands values on pickled.

A Task crosses as it is: ClearML pickles it by id (`Task.__getstate__`) and unpickling binds
the copy to the same task on the server (`Task.get_task(task_id=...)`), so what a later block
reports reaches the same task. A Logger does not pickle (it holds its task's reporter), so a
Logger taken from a Task kept in a name (`logger = task.get_logger()`, `logger = task.logger`)
is not handed on: each later block that reads it takes it again from the carried Task, first
thing, while that name still holds that Task. Any other Logger a later block or a step would
read, and other ClearML objects two names share across a step call, are refused (PC699) with
the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.syntax import RunsWithStatement, names_in, quoted_code
from pipec.compiler.trace_sharing import Kind
from pipec.compiler.trace_state import Unavailable
from pipec.manifest import Guard

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context, Symbol

__all__ = [
    "CarriedLogger",
    "holds_logger",
    "keep_loggers",
    "loggers_at_end",
    "rederived",
    "report_shared",
    "unpickling_modules",
]

_TASK_CONSTRUCTORS = frozenset(
    f"{where}.{method}"
    for where in ("clearml.Task", "clearml.task.Task")
    for method in ("create", "init", "get_task", "current_task")
)
_CURRENT_LOGGER = frozenset(
    ["clearml.Logger.current_logger", "clearml.logger.Logger.current_logger"]
)
_REPORT_IN_STEP = "do the ClearML reporting inside a step (`Logger.current_logger()` there)"


@dataclass(frozen=True)
class CarriedLogger:
    """A controller name holding the Logger of the Task `task` held when it was taken."""

    marker: Unavailable  # what the name holds in the tracer: read any other way, it is refused
    task: str | None  # None: it cannot be taken again (the marker says why)
    task_symbol: Symbol | None  # the Task's value then: that Task while it is this, or SAME
    line: str  # the user's own statement, run again first thing in each later block
    value: cst.BaseExpression  # where the Logger was taken (`task.get_logger()`)
    # The run-time decisions and the map it was taken under: code that runs on other paths
    # (after the `if`) would take it again where Python has none.
    guards: tuple[Guard, ...] = ()
    map: str | None = None


def _clearml_origin(t: Context, name: str) -> cst.Call | None:
    """The ClearML client call a controller name's value comes from (`Task.create(...)` for
    `logger = task.get_logger()` too), if every assignment of the name builds it from one."""
    assignments = _assignments(t.controller.function.body)
    return _origin(t, name, assignments, set())


def _origin(
    t: Context,
    name: str,
    assignments: dict[str, list[cst.BaseExpression]],
    seen: set[str],
) -> cst.Call | None:
    if name in seen:
        return None
    seen.add(name)
    for value in assignments.get(name, []):
        call = _clearml_call(t, value)
        if call is not None:
            return call
        root = _receiver_root(value)
        if root is not None and root != name:
            found = _origin(t, root, assignments, seen)
            if found is not None:
                return found
    return None


def _clearml_call(t: Context, value: cst.BaseExpression) -> cst.Call | None:
    """The first call of ClearML's client within `value` (`Task.create(...)`)."""

    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: cst.Call | None = None

        def visit_Call(self, node: cst.Call) -> None:
            if self.found is None and any(
                q.startswith("clearml.") and ".PipelineDecorator" not in q
                for q in t.source.qualified_names(node.func)
            ):
                self.found = node

    finder = _Calls()
    value.visit(finder)
    return finder.found


def _receiver_root(value: cst.BaseExpression) -> str | None:
    """`task` for `task.get_logger()` or `task.logger`: the name a value is taken from."""
    while isinstance(value, (cst.Call, cst.Attribute, cst.Subscript)):
        value = value.func if isinstance(value, cst.Call) else value.value
    return value.value if isinstance(value, cst.Name) else None


def _assignments(body: cst.CSTNode) -> dict[str, list[cst.BaseExpression]]:
    """Each controller name bound by a plain `name = value` -> its values."""

    class _Assigns(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: dict[str, list[cst.BaseExpression]] = {}

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.found.setdefault(target.target.value, []).append(node.value)
                else:
                    for name in names_in(target.target):
                        self.found.setdefault(name, [])

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    finder = _Assigns()
    body.visit(finder)
    return finder.found


def report_shared(t: Context, anchor: cst.CSTNode, name: str, other: str) -> bool:
    """Report a change in place of `name` that `other` would not see as one of a ClearML client
    object the two names reach, if it is one: that, not copying, is what the user has to change.
    True if reported."""
    origin = _clearml_origin(t, name) or _clearml_origin(t, other)
    if origin is None:
        return False
    t.reporter.report(
        rules.CLEARML_OBJECT_ACROSS_STEPS,
        t.location(anchor),
        held=f"`{name}` and `{other}` reach one ClearML client object",
        call=quoted_code(t.source.code(origin)),
        line=t.location(origin).line,
        where="by controller code on both sides of a step call",
        cause="and each gets its own pickled copy, so they would no longer be one object "
        "talking to the server",
        fix=f"{_REPORT_IN_STEP}, or keep every use of `{name}` and `{other}` in one block of "
        "controller code, with no step call between them",
    )
    return True


@dataclass(frozen=True)
class _Taken:
    """`name = <a ClearML Logger>` in the block being flushed."""

    name: str
    value: cst.BaseExpression
    task: str | None  # the name of the Task it is taken from, when a later block can take it again
    cause: str  # why a later block cannot, when it cannot
    fix: str


def loggers_at_end(
    t: Context, originals: Sequence[cst.CSTNode], writes: Sequence[str]
) -> Mapping[str, CarriedLogger | _Taken]:
    """The names of a block of controller code (its `originals`, assigning `writes`) that hold
    a ClearML Logger when it ends: the block does not hand them on (a Logger does not pickle)."""
    found: dict[str, CarriedLogger | _Taken] = {}
    for name in writes:  # changed in place here (`logger.report_text(...)`), not assigned
        carried = t.loggers.get(name)
        if carried is not None and t.frame.env.get(name) is carried.marker:
            found[name] = carried
    for original in originals:
        taken = [_taken(t, original)]
        if isinstance(original, cst.BaseCompoundStatement):
            taken = [_on_some_paths_only(t, inner) for inner in _inner_assignments(original)]
        named = {entry.name: entry for entry in taken if entry is not None}
        for bound in t.writes(original):
            if bound not in named:
                found.pop(bound, None)
            for name, entry in list(found.items()):
                if entry.task == bound and name != bound:
                    found[name] = _Taken(name, entry.value, None, *_stale(name, bound))
        found.update(named)
    return found


def _inner_assignments(statement: cst.BaseCompoundStatement) -> list[cst.CSTNode]:
    """The assignments inside `statement` that bind a controller name."""

    class _Assignments(RunsWithStatement):  # not inside the functions and classes it defines
        def __init__(self) -> None:
            self.found: list[cst.CSTNode] = []

        def visit_Assign(self, node: cst.Assign) -> None:
            self.found.append(node)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            self.found.append(node)

    finder = _Assignments()
    statement.visit(finder)
    return finder.found


def _on_some_paths_only(t: Context, inner: cst.CSTNode) -> _Taken | None:
    """A Logger taken inside an `if` or a loop of controller code: never taken again."""
    taken = _taken(t, inner)
    if taken is None:
        return None
    return _Taken(taken.name, taken.value, None, *_on_some_paths(taken.name, taken.task))


def keep_loggers(t: Context, found: Mapping[str, CarriedLogger | _Taken]) -> None:
    """After the block's values are bound: each Logger name holds a marker, never a value."""
    for name, entry in found.items():
        if isinstance(entry, _Taken):
            entry = _carried(t, entry)
            t.loggers[name] = entry
        t.frame.env[name] = entry.marker


def rederived(t: Context, name: str) -> CarriedLogger | None:
    """The Logger `name` holds, when a block of controller code that reads it can take it again
    from its Task (the Task's name still holds that Task). A Logger that cannot be taken again
    is left to be refused where it is read."""
    carried = t.loggers.get(name)
    if carried is None or carried.task is None or t.frame.env.get(name) is not carried.marker:
        return None
    guards = t.frame.guards
    if guards[: len(carried.guards)] != carried.guards or carried.map not in (None, t.frame.map):
        _refuse(t, name, carried, *_on_some_paths(name, carried.task))
        return None
    now = t.frame.env.get(carried.task)
    if now is not None and (
        now is carried.task_symbol
        or t.sharing.sources(t.sharing.key(now)).get(t.sharing.key(carried.task_symbol))
        is Kind.SAME
    ):
        return carried
    _refuse(t, name, carried, *_stale(name, carried.task))
    return None


def holds_logger(t: Context, name: str) -> bool:
    """Whether controller name `name` holds a ClearML Logger (so `del name` only unbinds it)."""
    symbol = t.frame.env.get(name)
    return isinstance(symbol, Unavailable) and symbol.rule is rules.CLEARML_OBJECT_ACROSS_STEPS


def _refuse(t: Context, name: str, carried: CarriedLogger, cause: str, fix: str) -> None:
    """On this path, from here on, `name` is refused where it is read, for `cause`."""
    t.frame.env[name] = _marker(t, _Taken(name, carried.value, None, cause, fix))


def unpickling_modules(t: Context, inputs: Sequence[str]) -> tuple[str, ...]:
    """The modules a node that reads `inputs` needs to load them: `clearml` for a Task, which
    a copy only finds again through clearml (the other packages of its producer are added for
    every input; clearml is not, as most of what a ClearML call returns is plain data)."""
    return ("clearml",) if any(_holds_only_a_task(t, name) for name in inputs) else ()


def _taken(t: Context, original: cst.CSTNode) -> _Taken | None:
    """`name = task.get_logger()`, `name = task.logger`, `name = Logger.current_logger()`..."""
    if isinstance(original, cst.Assign) and len(original.targets) == 1:
        target = original.targets[0].target
    elif isinstance(original, cst.AnnAssign) and original.value is not None:
        target = original.target
    else:
        return None
    value = original.value
    if not isinstance(target, cst.Name) or value is None:
        return None
    name = target.value
    if isinstance(value, cst.Call) and _names(t, value.func) & _CURRENT_LOGGER:
        return _Taken(
            name,
            value,
            None,
            "and a Logger does not pickle; `Logger.current_logger()` run again in a later "
            "block's process would not find this run's task",
            "take the Logger from a Task kept in a name (`task = Task.init(...)`, then "
            f"`{name} = task.get_logger()`): each later block takes it again from the Task; or "
            + _REPORT_IN_STEP,
        )
    receiver = _logger_receiver(value)
    if receiver is None:
        return None
    if isinstance(receiver, cst.Name) and _holds_only_a_task(t, receiver.value):
        return _Taken(name, value, receiver.value, "", "")
    if _clearml_call(t, receiver) is None and (
        not isinstance(receiver, cst.Name) or _clearml_origin(t, receiver.value) is None
    ):
        return None  # a `logger` attribute of something else
    return _Taken(
        name,
        value,
        None,
        "and a Logger does not pickle; it was not taken from a name that only ever holds a "
        "Task, so a later block cannot take it again",
        "keep the Task in a name of its own first (`task = Task.create(...)`, then "
        "`logger = task.get_logger()`): each later block takes the Logger again from it; or "
        + _REPORT_IN_STEP,
    )


def _logger_receiver(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """`task` in `task.get_logger()` and in `task.logger`."""
    if (
        isinstance(value, cst.Call)
        and not value.args
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "get_logger"
    ):
        return value.func.value
    if isinstance(value, cst.Attribute) and value.attr.value == "logger":
        return value.value
    return None


def _holds_only_a_task(t: Context, name: str) -> bool:
    """Whether every binding of controller name `name` is `name = Task.create(...)` (or
    `Task.init`, `Task.get_task`, `Task.current_task`)."""
    if t.task_names is None:
        scope = t.controller_scope
        every = [a.name for a in scope.assignments] if scope is not None else []
        t.task_names = frozenset(
            bound
            for bound, values in _assignments(t.controller.function.body).items()
            if values
            and len(values) == every.count(bound)
            and all(
                isinstance(value, cst.Call) and _names(t, value.func) & _TASK_CONSTRUCTORS
                for value in values
            )
        )
    return name in t.task_names


def _names(t: Context, node: cst.CSTNode) -> frozenset[str]:
    return t.source.qualified_names(node)


def _stale(name: str, task: str) -> tuple[str, str]:
    return (
        f"and a Logger does not pickle; by here `{task}` no longer holds the Task `{name}` was "
        "taken from, so it cannot be taken again",
        f"give the new value of `{task}` a name of its own, so that `{task}` keeps the Task "
        f"`{name}` came from; or {_REPORT_IN_STEP}",
    )


def _on_some_paths(name: str, task: str | None) -> tuple[str, str]:
    return (
        f"and a Logger does not pickle; `{name}` is taken only on some paths (inside an `if`, "
        "a loop, a `with` or a `try`), so code after it cannot tell whether to take it again",
        f"take it on every path, before the `if` or the loop (`{name} = {task or 'task'}"
        f".get_logger()` right after the Task is made); or {_REPORT_IN_STEP}",
    )


def _carried(t: Context, taken: _Taken) -> CarriedLogger:
    marker = _marker(t, taken)
    if taken.task is None:
        return CarriedLogger(marker, None, None, "", taken.value)
    line = f"{taken.name} = {t.source.code(taken.value).strip()}"
    task_symbol = t.frame.env.get(taken.task)
    frame = t.frame
    return CarriedLogger(
        marker, taken.task, task_symbol, line, taken.value, frame.guards, frame.map
    )


def _marker(t: Context, taken: _Taken) -> Unavailable:
    """What a Logger name holds in the tracer: read where it cannot be taken again (by a step,
    or after its Task's name changed), it reports why."""
    if taken.task is not None:
        where = "as a step's argument"
        cause = "and a Logger does not pickle"
        fix = (
            f"pass `{taken.task}` and take its Logger in the step (`{taken.task}.get_logger()`), "
            f"or {_REPORT_IN_STEP}"
        )
    else:
        where, cause, fix = "after a step call", taken.cause, taken.fix
    return Unavailable(
        rules.CLEARML_OBJECT_ACROSS_STEPS,
        {
            "held": f"`{taken.name}` holds a ClearML Logger",
            "call": quoted_code(t.source.code(taken.value)),
            "line": t.location(taken.value).line,
            "where": where,
            "cause": cause,
            "fix": fix,
        },
    )
