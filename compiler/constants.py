"""Module-level constants: values the file fixes at import time, computed by folding, never by running it.

A name is a constant when one top-level statement binds it, by assigning an expression that
folds (literals, other constants, a few pure builtins and `str` methods). Decorator options,
parameter defaults and `__main__` arguments are read through here.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from pipec.compiler.fold import fold
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.parse import main_index_of
from pipec.compiler.source import SourceModule

__all__ = ["bindings_before_pipeline", "constant_of", "module_constant"]


def constant_of(
    source: SourceModule, expr: cst.BaseExpression, local: dict[str, Any] | None = None
) -> Any:
    """The value of `expr` written at module level or in a header, or NOT_LITERAL.

    `local` holds extra constants (the `__main__` block's own assignments), which win over the
    module's.
    """
    if _calls_a_module_name(source, expr):
        return NOT_LITERAL
    extra = local or {}

    def lookup(name: str) -> Any:
        if name in extra:
            return extra[name]
        return module_constant(source, name, frozenset())

    return fold(expr, lookup)


def module_constant(source: SourceModule, name: str, seen: frozenset[str]) -> Any:
    """The value of the module-level `name` when one statement binds it to a foldable expression."""
    if name in seen:
        return NOT_LITERAL
    indices = bindings_before_pipeline(source, name)
    if len(indices) != 1:
        return NOT_LITERAL
    statement = source.module.body[indices[0]]
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return NOT_LITERAL
    small = statement.body[0]
    if not isinstance(small, (cst.Assign, cst.AnnAssign)) or small.value is None:
        return NOT_LITERAL
    if not _assigns_only(small, name) or _calls_a_module_name(source, small.value):
        return NOT_LITERAL
    inner = seen | {name}
    return fold(small.value, lambda other: module_constant(source, other, inner))


def bindings_before_pipeline(source: SourceModule, name: str) -> list[int]:
    """The top-level statements binding `name` that have run when `python FILE` calls the pipeline.

    Code after the `__main__` block runs once the pipeline has returned: the pipeline reading the
    name there gets NameError in Python, so such a binding gives no value to fold.
    """
    main = main_index_of(source)
    return [i for i in source.global_bindings().get(name, []) if main is None or i <= main]


def _assigns_only(small: cst.Assign | cst.AnnAssign, name: str) -> bool:
    if isinstance(small, cst.AnnAssign):
        return isinstance(small.target, cst.Name) and small.target.value == name
    target = small.targets[0].target if len(small.targets) == 1 else None
    return isinstance(target, cst.Name) and target.value == name


def _calls_a_module_name(source: SourceModule, expr: cst.BaseExpression) -> bool:
    """Whether `expr` calls a name the module binds: `len` defined in the file is not the builtin."""
    bound = source.global_bindings()
    found = False

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            if isinstance(node.func, cst.Name) and node.func.value in bound:
                found = True

    expr.visit(_Calls())
    return found
