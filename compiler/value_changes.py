"""What one function does to module-level values: of its own module, of a local module, or (in
a method) to the object it runs on.

A change is a rebinding by `global NAME`, or a change in place of the object a module-level
name holds: `SEEN.append(v)`, `x = SEEN.pop()`, `CONFIG["k"] = v`, `Tally.total += 1`,
`cls.names.append(n)` in a classmethod, `mylib.REGISTRY.append(x)`. It is followed through the
function's own names for such an object (`data = SEEN`, `bucket = TABLE[k]`,
`for row in ROWS: row.append(0)`) and through a function of the program the object is passed to
that changes its parameter (`put(SEEN, v)` where `put` does `store.append(v)`). A copy
(`data = list(SEEN)`, `SEEN.copy()`, `SEEN[:]`) is the function's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler.call_effects import CHANGING_ONLY_RECEIVER, changed_places
from pipec.compiler.code_reach import Function, Program, Unit
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import quoted_code, within

__all__ = ["SELF", "Change", "changes_of"]

SELF = "self"  # a method's change to its own object: a module-level value's, if it is one

# What `name += ...` adds to a list, set or dict in place (an int or a string is rebound).
_CONTAINERS = (cst.List, cst.ListComp, cst.Set, cst.SetComp, cst.Dict, cst.DictComp, cst.Tuple)

# Methods whose result is an object the receiver holds, not a copy of it.
_ELEMENT_METHODS = frozenset(["get", "setdefault", "values"])


@dataclass(frozen=True)
class Change:
    anchor: cst.CSTNode  # the statement that changes the value, in `function`'s module
    unit: Unit
    name: str  # the module-level name in `unit`, or SELF
    code: str
    declared: bool  # by `global NAME`, not by a change in place
    passed_to: str | None = None  # the function it is passed to that changes it, if that is how


_Key = tuple[Unit, str]


def changes_of(program: Program, function: Function, own_only: bool) -> Iterator[Change]:
    """What `function` does to module-level values, in source order. `own_only`: leave out the
    statements of functions, classes and lambdas nested in it."""
    unit = function.unit
    extent = unit.source.extent(function.node)
    aliases = _aliases(program, function)
    for statement in _statements(function.node, own_only):
        if isinstance(statement, cst.Global):
            for item in statement.names:
                name = item.name.value
                if _assigned_within(unit.source, name, extent):
                    yield Change(statement, unit, name, f"global {name}", True)
            continue
        code = quoted_code(unit.source.code(statement))
        for expression, receiver in _changed_objects(statement):
            value = _value_of(program, function, expression, aliases)
            if value is None:
                continue
            if receiver and isinstance(expression, cst.Name) and value[1] in value[0].instances:
                continue  # `BAG.add(v)` on an object of the file's own class: its method says
            yield Change(statement, value[0], value[1], code, False)
        for _call, callee, parameter, argument in _calls_with_arguments(
            program, function, statement
        ):
            value = _value_of(program, function, argument, aliases)
            if value is not None and _changes_parameter(program, callee, parameter, set()):
                yield Change(statement, value[0], value[1], code, False, callee.title)


def _changed_objects(statement: cst.BaseSmallStatement) -> list[tuple[cst.BaseExpression, bool]]:
    """The objects `statement` changes in place, each with whether it is the receiver of a
    method: its assignment targets' containers, what `+=` extends, and the receivers of the
    changing methods it calls anywhere (`x = xs.pop()`)."""
    targets, _ = changed_places(statement)
    found = [(t.value, False) for t in targets if isinstance(t, (cst.Subscript, cst.Attribute))]
    if (
        isinstance(statement, cst.AugAssign)
        and isinstance(statement.target, cst.Name)
        and isinstance(statement.value, _CONTAINERS)
    ):
        found.append((statement.target, False))  # `xs += [v]` extends the list `xs` names

    class _Receivers(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value in CHANGING_ONLY_RECEIVER:
                found.append((func.value, True))

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    statement.visit(_Receivers())
    return found


def _root(expression: cst.BaseExpression) -> cst.BaseExpression:
    while isinstance(expression, (cst.Subscript, cst.Attribute)):
        expression = expression.value
    return expression


def _value_of(
    program: Program,
    function: Function,
    expression: cst.BaseExpression,
    aliases: dict[str, _Key],
) -> _Key | None:
    """The module-level value whose object `expression` reaches into, if any: `SEEN` for
    `SEEN[0]`, `mylib.REGISTRY` for `mylib.REGISTRY["k"]`, the class for `cls.count`."""
    chain = [expression]
    while isinstance(chain[-1], (cst.Subscript, cst.Attribute)):
        chain.append(chain[-1].value)
    for part in reversed(chain):
        for unit, _parts in program.resolve(function.unit, part):
            return unit, _parts[0]
    base = chain[-1]
    if function.owner is not None and any(_names_own_class(function, p) for p in chain):
        return function.unit, function.owner.name.value  # `type(self).count += 1`
    if not isinstance(base, cst.Name):
        return None
    if base.value in aliases:
        return aliases[base.value]
    if base.value == function.first_parameter:
        owner = function.owner
        assert owner is not None
        if function.is_classmethod:
            return function.unit, owner.name.value
        return function.unit, SELF
    return None


def _names_own_class(function: Function, expression: cst.BaseExpression) -> bool:
    """Whether `expression` is `type(self)` or `self.__class__` in a method."""
    first = function.first_parameter
    if isinstance(expression, cst.Attribute) and expression.attr.value == "__class__":
        value = expression.value
        return isinstance(value, cst.Name) and value.value == first
    if isinstance(expression, cst.Call) and len(expression.args) == 1:
        func, argument = expression.func, expression.args[0].value
        return (
            isinstance(func, cst.Name)
            and func.value == "type"
            and isinstance(argument, cst.Name)
            and argument.value == first
        )
    return False


def _held_object(expression: cst.BaseExpression) -> cst.BaseExpression | None:
    """The expression whose object (or an object inside it) `expression` evaluates to:
    `TABLE[k]`, `TABLE.get(k)`, `ROWS` itself; None for a copy or a new value."""
    if isinstance(expression, cst.Call):
        func = expression.func
        if isinstance(func, cst.Attribute) and func.attr.value in _ELEMENT_METHODS:
            return _held_object(func.value)
        return None
    if isinstance(expression, cst.Subscript):
        if any(isinstance(e.slice, cst.Slice) for e in expression.slice):
            return None  # `SEEN[:]` is a copy
        return expression if _held_object(expression.value) is not None else None
    if isinstance(expression, (cst.Name, cst.Attribute)):
        return expression
    return None


def _aliases(program: Program, function: Function) -> dict[str, _Key]:
    """The function's own names bound to an object a module-level value holds (`data = SEEN`,
    `bucket = TABLE.setdefault(k, [])`, `for row in ROWS`), each with that value."""
    bindings: list[tuple[str, cst.BaseExpression]] = []

    class _Finder(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    bindings.append((target.target.value, node.value))

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            if isinstance(node.target, cst.Name):
                bindings.append((node.target.value, node.value))

        def visit_For(self, node: cst.For) -> None:
            if isinstance(node.target, cst.Name):
                bindings.append((node.target.value, node.iter))

    function.node.body.visit(_Finder())
    aliases: dict[str, _Key] = {}
    size = -1
    while size != len(aliases):  # an alias of an alias (`a = SEEN; b = a`)
        size = len(aliases)
        for name, value in bindings:
            held = _held_object(value)
            if held is None or name in aliases:
                continue
            key = _value_of(program, function, held, aliases)
            if key is not None:
                aliases[name] = key
    return aliases


def _calls_with_arguments(
    program: Program, function: Function, statement: cst.BaseSmallStatement
) -> Iterator[tuple[cst.Call, Function, str, cst.BaseExpression]]:
    """(call, the program's function it calls, parameter, argument) for each argument of a call
    in `statement` to a module-level function of the program that names its parameter."""
    calls: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            calls.append(node)

    statement.visit(_Calls())
    for call in calls:
        for unit, parts in program.resolve(function.unit, call.func):
            if len(parts) != 1 or parts[0] not in unit.functions:
                continue
            callee = program.function(unit, unit.functions[parts[0]], None)
            params = callee.node.params
            positional = [p.name.value for p in (*params.posonly_params, *params.params)]
            named = {p.name.value for p in (*params.params, *params.kwonly_params)}
            for index, argument in enumerate(call.args):
                if argument.star:
                    break
                if argument.keyword is not None:
                    if argument.keyword.value in named:
                        yield call, callee, argument.keyword.value, argument.value
                elif index < len(positional):
                    yield call, callee, positional[index], argument.value


def _changes_parameter(
    program: Program, function: Function, parameter: str, seen: set[tuple[int, str]]
) -> bool:
    """Whether `function` may change in place the object passed as its `parameter`."""
    if (id(function.node), parameter) in seen:
        return False
    seen.add((id(function.node), parameter))
    names = {parameter}
    bindings: list[tuple[str, cst.BaseExpression]] = []

    class _Finder(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    bindings.append((target.target.value, node.value))

        def visit_For(self, node: cst.For) -> None:
            if isinstance(node.target, cst.Name):
                bindings.append((node.target.value, node.iter))

    function.node.body.visit(_Finder())
    for name, value in bindings * 2:  # twice: an alias of an alias
        held = _held_object(value)
        root = _root(held) if held is not None else None
        if isinstance(root, cst.Name) and root.value in names:
            names.add(name)
    for statement in _statements(function.node, own_only=False):
        for expression, _ in _changed_objects(statement):
            root = _root(expression)
            if isinstance(root, cst.Name) and root.value in names:
                return True
        for _call, callee, inner, argument in _calls_with_arguments(program, function, statement):
            root = _root(argument)
            if (
                isinstance(root, cst.Name)
                and root.value in names
                and _changes_parameter(program, callee, inner, seen)
            ):
                return True
    return False


def _statements(function: cst.FunctionDef, own_only: bool) -> list[cst.BaseSmallStatement]:
    found: list[cst.BaseSmallStatement] = []

    class _Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if own_only and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return node is function
            if isinstance(node, cst.BaseSmallStatement):
                found.append(node)
            return True

    function.visit(_Finder())
    return found


def _assigned_within(source: SourceModule, name: str, extent: CodeRange) -> bool:
    for assignment in source.global_scope.assignments[name]:
        node = getattr(assignment, "node", None)
        if (
            isinstance(node, cst.CSTNode)
            and node in source.positions
            and within(source.positions[node], extent)
        ):
            return True
    return False
