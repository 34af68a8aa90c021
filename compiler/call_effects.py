"""Which names a call in a controller statement may change in place.

`normalize(d)` may change `d`, `random.Random(0).shuffle(xs)` changes `xs`, `y = xs.pop()`
changes `xs`: the code after the statement must see the change, so a glue node exports every
name a call it makes may have changed. The answer over-approximates: a call pipec knows
nothing about may change every name passed to it; only builtins and methods known to read
their arguments are trusted.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler.syntax import PURE_BUILTINS

__all__ = ["names_calls_may_change"]

# Builtins that never change their arguments (print only writes them out).
_READING_FUNCTIONS = PURE_BUILTINS | {"print", "ascii", "callable", "getattr", "hasattr", "id"}

# Methods that change only the object they are called on, never their arguments.
_CHANGING_ONLY_RECEIVER = frozenset(
    [
        "add",
        "append",
        "clear",
        "discard",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "reverse",
        "setdefault",
        "sort",
        "update",
    ]
)

# Methods of the builtin types that change neither the object nor their arguments.
_READING_METHODS = frozenset(
    [
        "copy",
        "count",
        "endswith",
        "find",
        "format",
        "get",
        "index",
        "isdigit",
        "items",
        "join",
        "keys",
        "lower",
        "lstrip",
        "replace",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "title",
        "upper",
        "values",
    ]
)


def _root(expression: cst.BaseExpression) -> str | None:
    """The name an expression reaches into (`d` for `d["a"].b`), if it is one."""
    while isinstance(expression, (cst.Attribute, cst.Subscript)):
        expression = expression.value
    return expression.value if isinstance(expression, cst.Name) else None


class _Finder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: list[str] = []

    def _add(self, expression: cst.BaseExpression) -> None:
        name = _root(expression)
        if name is not None and name not in self.names:
            self.names.append(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            if func.value in _READING_FUNCTIONS:
                return
        elif isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _READING_METHODS:
                return
            self._add(func.value)
            if method in _CHANGING_ONLY_RECEIVER:
                return
        for argument in node.args:
            self._add(argument.value)

    # A function or lambda defined here runs later, if ever; its calls are its own.
    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def names_calls_may_change(statement: cst.CSTNode) -> list[str]:
    """The names whose objects a call in `statement` may change, in order of appearance."""
    finder = _Finder()
    statement.visit(finder)
    return finder.names
