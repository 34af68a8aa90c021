"""Comparisons by `==` that are identity tests in disguise, where a compiled run holds copies.

An object of a class with no `__eq__` of its own is equal only to itself, and so is an
`object()` sentinel: `a == b`, `a in xs`, `d[a]`, `d.get(a)`, `xs.index(a)` and `==` between
lists holding such objects ask whether two places hold one object. A node reads each input as
a copy of its own, so where Python may find one object (`other = keep(box)` then
`other == box`; `d = {box: 1}`, a step call, then `box in d`) the compiled run finds two, and
answers False. Such a comparison is refused at its line (PC697).

What counts as such a class is decided from the file alone: a class of the file that neither
defines `__eq__`, nor gets one from a base (a file class that has one, a library class, an
Enum, a NamedTuple), nor is a dataclass with `eq`. Objects of library classes cannot be known
and are not checked; nor is a comparison of a field (`a.name == b.name`).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.identity_copies import code_of, may_part, operand_objects
from pipec.compiler.syntax import names_in
from pipec.compiler.value_origins import Origin, may_hold
from pipec.manifest import Binding

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["equality_tests", "identity_equal_kinds", "refuse_equality_of_copies"]

# Bases whose `==` is identity: a class built on them alone has no other.
_IDENTITY_BASES = frozenset(
    ["object"]
    + [
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    ]
)
# Lookups that find an item by `==`: the receiver is searched for the first argument.
_LOOKUP_METHODS = frozenset(["count", "discard", "get", "index", "remove", "setdefault"])

# A comparison by `==`: the node that makes it, and the two expressions it compares.
_Test = tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression]


def refuse_equality_of_copies(
    t: Context,
    statements: Sequence[cst.BaseStatement],
    expression: cst.BaseExpression | None,
    inputs: Sequence[tuple[str, Binding]],
    originals: Sequence[cst.CSTNode],
) -> None:
    """Report PC697 at each comparison of a node's code that may compare an object whose `==`
    is identity with a copy of itself."""
    kinds = identity_equal_kinds(t)
    if not kinds:
        return  # nothing in the file compares by identity: every `==` keeps its answer
    origin = _origin(t)
    own: list[cst.CSTNode] = [*statements, *([expression] if expression is not None else [])]
    tests = [test for node in own for test in equality_tests(node)]
    if not tests:
        return
    given: Mapping[str, Binding] = dict(inputs)
    code = list(statements)
    written = [test for node in originals for test in equality_tests(node)]
    for index, (whole, left, right) in enumerate(tests):
        if _field(left) or _field(right):
            continue
        mine = operand_objects(t, left, code, given, lambda b: may_hold(t, b, origin))
        theirs = operand_objects(t, right, code, given, lambda b: may_hold(t, b, origin))
        if not may_part(t, mine, theirs):
            continue
        at = written[index][0] if len(written) == len(tests) else originals[0]
        shown = at if at in t.source.positions else whole
        t.reporter.report(
            rules.EQUALITY_OF_COPIES,
            t.location(at if at in t.source.positions else originals[0]),
            test=code_of(t, shown),
            kinds=kinds,
        )


def _field(expr: cst.BaseExpression) -> bool:
    """A field of an object (`box.name`): taken to be a value with an `==` of its own."""
    return isinstance(expr, cst.Attribute)


def equality_tests(node: cst.CSTNode) -> list[_Test]:
    """The comparisons by `==` in `node`: `a == b`, `a != b`, `a in b`, `a not in b`, `b[a]`,
    and the lookups `b.get(a)`, `b.index(a)`, `b.count(a)`, `b.remove(a)`, ..."""
    found: list[_Test] = []

    class _Tests(cst.CSTVisitor):
        def visit_Comparison(self, comparison: cst.Comparison) -> None:
            left = comparison.left
            for target in comparison.comparisons:
                right = target.comparator
                if isinstance(target.operator, (cst.Equal, cst.NotEqual, cst.In, cst.NotIn)):
                    found.append((comparison, left, right))
                left = right

        def visit_Subscript(self, subscript: cst.Subscript) -> None:
            if len(subscript.slice) == 1 and isinstance(subscript.slice[0].slice, cst.Index):
                found.append((subscript, subscript.slice[0].slice.value, subscript.value))

        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in _LOOKUP_METHODS
                and call.args
                and not call.args[0].star
                and call.args[0].keyword is None
            ):
                found.append((call, call.args[0].value, func.value))

        def visit_FunctionDef(self, function: cst.FunctionDef) -> bool:
            return False  # runs later, if ever, and not with these values

        def visit_Lambda(self, function: cst.Lambda) -> bool:
            return False

    node.visit(_Tests())
    return found


def _origin(t: Context) -> Origin:
    """How to tell a value that may hold an object whose `==` is identity: code that names a
    class, function or module-level value of the file that makes one (found once)."""
    if t.identity_makers is None:
        t.identity_makers = _makers(t.source.module)
    makers = t.identity_makers

    def makes(node: cst.CSTNode) -> bool:
        return _makes_sentinels(node) or any(name in makers for name in names_in(node))

    return Origin("identity-equal", makes, lambda step: step in makers)


def _makers(module: cst.Module) -> frozenset[str]:
    """The module-level names whose code may make an object whose `==` is identity: such
    classes, and the functions, classes and values whose code names one or makes `object()`."""
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
            return frozenset(found)
        found = grown


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
