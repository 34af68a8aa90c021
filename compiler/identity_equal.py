"""What in the pipeline file is equal only to itself, and where such objects are made.

An object of a class with no `__eq__` of its own compares by identity (`==` is `is`), and so
does an `object()` sentinel. Which classes those are is decided from the file alone: a
module-level class that neither defines `__eq__`, nor gets one from a base (a file class that
has one, a library class, an Enum, a NamedTuple, a metaclass), nor is a dataclass with `eq`.
Objects of library classes cannot be known, and are taken to have an `__eq__` of their own.
A module-level value made by such a class (`MISSING = object()`, `DEFAULT = Box(0)`) is made
afresh by every script of a compiled run, which runs the module's top level in a process of
its own.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.syntax import names_in
from pipec.compiler.value_origins import Origin, may_hold
from pipec.manifest import Binding

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["identity_equal_kinds", "identity_origin", "module_instance_apart"]

# Bases whose `==` is identity: a class built on them alone has no other.
_IDENTITY_BASES = frozenset(
    ["object"]
    + [
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
)


def identity_origin(t: Context) -> Origin:
    """How to tell a value that may hold an object whose `==` is identity: code that names a
    class, function or module-level value of the file that makes one."""
    makers, _ = _makers(t)

    def makes(node: cst.CSTNode) -> bool:
        return _makes_sentinels(node) or any(name in makers for name in names_in(node))

    return Origin("identity-equal", makes, lambda step: step in makers)


def module_instance_apart(
    t: Context,
    left: cst.BaseExpression,
    right: cst.BaseExpression,
    given: Mapping[str, Binding],
) -> bool:
    """Whether one side reads a module-level object whose `==` is identity (`MISSING`) and the
    other a value an earlier node or a step may have taken from it: that was the one object in
    Python, and is the earlier process's copy in a compiled run."""
    _, instances = _makers(t)
    if not instances:
        return False
    for fresh, stored in ((left, right), (right, left)):
        for name in names_in(fresh):
            if name not in instances or name in t.frame.env or name in given:
                continue
            origin = Origin(f"module {name}", _names(name), _step_names(t, name))
            if any(n in given and may_hold(t, given[n], origin) for n in names_in(stored)):
                return True
    return False


def _names(name: str) -> Callable[[cst.CSTNode], bool]:
    return lambda node: name in names_in(node)


def _step_names(t: Context, name: str) -> Callable[[str], bool]:
    """Whether the step function of a name reads module-level `name`."""
    functions = {s.name.value: s for s in t.source.module.body if isinstance(s, cst.FunctionDef)}
    return lambda step: step in functions and name in names_in(functions[step])


def _makers(t: Context) -> tuple[frozenset[str], frozenset[str]]:
    """The module-level names whose code may make an object whose `==` is identity (such
    classes, and the functions, classes and values whose code names one or makes `object()`),
    and of those the values made by calling one (found once)."""
    if t.identity_makers is None:
        t.identity_makers = _find_makers(t.source.module)
    return t.identity_makers


def _find_makers(module: cst.Module) -> tuple[frozenset[str], frozenset[str]]:
    found = set(_identity_classes(module))
    bound: list[tuple[list[str], cst.CSTNode]] = []
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            bound.append(([statement.name.value], statement))
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    names = [n for target in small.targets for n in names_in(target.target)]
                    bound.append((names, small.value))
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    bound.append((names_in(small.target), small.value))
    while True:
        grown = set(found)
        for names, code in bound:
            if _makes_sentinels(code) or any(name in found for name in names_in(code)):
                grown.update(names)
        if grown == found:
            break
        found = grown
    instances = {
        name
        for names, code in bound
        if isinstance(code, cst.Call)
        and isinstance(code.func, cst.Name)
        and (code.func.value in found or code.func.value == "object" and not code.args)
        for name in names
    }
    return frozenset(found), frozenset(instances)


def identity_equal_kinds(t: Context) -> str:
    """What in the file is equal only to itself, for the message (`Box`, `object()`
    sentinels); "" when nothing is (found once)."""
    if t.identity_equal is None:
        module = t.source.module
        classes = sorted(_identity_classes(module))
        parts = []
        if classes:
            names = ", ".join(f"`{name}`" for name in classes)
            what = "a class" if len(classes) == 1 else "classes"
            parts.append(f"objects of {names} ({what} of the file with no `__eq__`)")
        if _makes_sentinels(module):
            parts.append("`object()` sentinels")
        t.identity_equal = " and ".join(parts)
    return t.identity_equal


def _identity_classes(module: cst.Module) -> set[str]:
    """The module-level classes of the file whose `==` is identity."""
    classes = {s.name.value: s for s in module.body if isinstance(s, cst.ClassDef)}
    decided: dict[str, bool] = {}

    def identity(name: str) -> bool:
        if name not in decided:
            decided[name] = False  # a base that leads back here is not decided by it
            decided[name] = _compares_by_identity(classes[name], classes, identity)
        return decided[name]

    return {name for name in classes if identity(name)}


def _compares_by_identity(
    cls: cst.ClassDef,
    classes: Mapping[str, cst.ClassDef],
    identity: Callable[[str], bool],
) -> bool:
    if any(argument.keyword is not None for argument in cls.bases) or cls.keywords:
        return False  # a metaclass or a keyword to one may give `==`
    if not all(_keeps_identity(decorator.decorator) for decorator in cls.decorators):
        return False
    if _defines_eq(cls):
        return False
    for base in cls.bases:
        value = base.value
        if not isinstance(value, cst.Name):
            return False  # a library class (`nn.Module`, `pydantic.BaseModel`): cannot be known
        if value.value in classes:
            if not identity(value.value):
                return False
        elif value.value not in _IDENTITY_BASES:
            return False
    return True


def _keeps_identity(decorator: cst.BaseExpression) -> bool:
    """Whether a class decorator leaves `==` alone: only `@dataclass(eq=False)` is known to."""
    if not isinstance(decorator, cst.Call):
        return False
    func = decorator.func
    named = (
        func.value
        if isinstance(func, cst.Name)
        else func.attr.value
        if isinstance(func, cst.Attribute)
        else ""
    )
    return named == "dataclass" and any(
        argument.keyword is not None
        and argument.keyword.value == "eq"
        and isinstance(argument.value, cst.Name)
        and argument.value.value == "False"
        for argument in decorator.args
    )


def _defines_eq(cls: cst.ClassDef) -> bool:
    for statement in cls.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == "__eq__":
            return True
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets = (
                    [target.target for target in small.targets]
                    if isinstance(small, cst.Assign)
                    else [small.target]
                    if isinstance(small, cst.AnnAssign)
                    else []
                )
                if any(isinstance(x, cst.Name) and x.value == "__eq__" for x in targets):
                    return True
        # `if ...: def __eq__` or a nested class: cannot be sure there is no `__eq__`
        if not isinstance(
            statement, (cst.FunctionDef, cst.SimpleStatementLine)
        ) and "__eq__" in cst.Module([]).code_for_node(statement):
            return True
    return False


def _makes_sentinels(node: cst.CSTNode) -> bool:
    """Whether `node` calls `object()`."""

    class _Sentinels(cst.CSTVisitor):
        found = False

        def visit_Call(self, call: cst.Call) -> None:
            if isinstance(call.func, cst.Name) and call.func.value == "object" and not call.args:
                self.found = True

    finder = _Sentinels()
    node.visit(finder)
    return finder.found
