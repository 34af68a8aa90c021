"""Constant folding of controller expressions: literals, known constants and a few pure builtins.

Used to decide `if` tests and `for` iterables at compile time. It computes only with values
that are already constants, through a fixed list of side-effect-free operations; anything
else is "not constant" and left for the run.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import libcst as cst

from pipec.compiler.literals import NOT_LITERAL, read_literal

__all__ = ["fold", "MAX_UNROLL"]

MAX_UNROLL = 1000  # iterations a compile-time loop may unroll into

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
    cst.In: lambda a, b: a in b,
    cst.NotIn: lambda a, b: a not in b,
    cst.Is: operator.is_,
    cst.IsNot: operator.is_not,
}


def _identity_known(left: object, right: object) -> bool:
    return any(value is None or isinstance(value, bool) for value in (left, right))


def _range(*args: int) -> list[int]:
    values = range(*args)
    if len(values) > MAX_UNROLL:
        raise ValueError("too long to unroll")
    return list(values)


_BUILTINS: dict[str, Callable[..., Any]] = {
    "range": _range,
    "len": len,
    "enumerate": lambda seq, start=0: list(enumerate(seq, start)),
    "zip": lambda *seqs: list(zip(*seqs, strict=False)),
    "list": list,
    "tuple": tuple,
    "sorted": sorted,
    "reversed": lambda seq: list(reversed(seq)),
    "min": min,
    "max": max,
    "sum": sum,
    "abs": abs,
    "round": round,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
}

# Methods of `str` that compute a new value from constants and touch nothing else.
_STR_METHODS = frozenset(
    {
        "capitalize",
        "endswith",
        "format",
        "join",
        "lower",
        "lstrip",
        "removeprefix",
        "removesuffix",
        "replace",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "title",
        "upper",
        "zfill",
    }
)
_CONVERSIONS: dict[str, Callable[[Any], str]] = {"r": repr, "s": str, "a": ascii}


def fold(expr: cst.BaseExpression, lookup: Callable[[str], Any]) -> Any:
    """The value of `expr` if it is constant, else NOT_LITERAL. `lookup(name)` gives known constants."""
    try:
        value = _fold(expr, lookup)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, IndexError):
        return NOT_LITERAL
    # NaN has no literal a manifest could carry (and is not equal to itself): left to the run.
    if _has_nan(value):
        return NOT_LITERAL
    # `[[]] * 2` holds one list twice: a literal would hold two, and a change through one would
    # not show through the other as it does in Python.
    return NOT_LITERAL if _repeats_an_object(value, set()) else value


def _repeats_an_object(value: Any, seen: set[int]) -> bool:
    """Whether a list, dict or set appears twice inside `value` (the same object)."""
    if isinstance(value, (list, dict, set)):
        if id(value) in seen:
            return True
        seen.add(id(value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_repeats_an_object(item, seen) for item in value)
    if isinstance(value, dict):
        return any(_repeats_an_object(item, seen) for item in value.values())
    return False


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, complex):
        return math.isnan(value.real) or math.isnan(value.imag)
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_has_nan(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nan(k) or _has_nan(v) for k, v in value.items())
    return False


def _fold(expr: cst.BaseExpression, lookup: Callable[[str], Any]) -> Any:
    if isinstance(
        expr,
        (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString),
    ):
        return read_literal(cst.Module([]).code_for_node(expr))
    if isinstance(expr, cst.Name):
        if expr.value in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[expr.value]
        return lookup(expr.value)
    if isinstance(expr, (cst.List, cst.Tuple)):
        items = []
        for element in expr.elements:
            if isinstance(element, cst.StarredElement):
                return NOT_LITERAL
            value = _fold(element.value, lookup)
            if value is NOT_LITERAL:
                return NOT_LITERAL
            items.append(value)
        return items if isinstance(expr, cst.List) else tuple(items)
    if isinstance(expr, cst.Dict):
        result = {}
        for item in expr.elements:
            if not isinstance(item, cst.DictElement):
                return NOT_LITERAL
            key, value = _fold(item.key, lookup), _fold(item.value, lookup)
            if key is NOT_LITERAL or value is NOT_LITERAL:
                return NOT_LITERAL
            result[key] = value
        return result
    if isinstance(expr, cst.UnaryOperation):
        value = _fold(expr.expression, lookup)
        if value is NOT_LITERAL:
            return NOT_LITERAL
        if isinstance(expr.operator, cst.Not):
            return not value
        if isinstance(expr.operator, cst.Minus):
            return -value
        if isinstance(expr.operator, cst.Plus):
            return +value
        return NOT_LITERAL
    if isinstance(expr, cst.BinaryOperation):
        function = _BINARY.get(type(expr.operator))
        left, right = _fold(expr.left, lookup), _fold(expr.right, lookup)
        if function is None or left is NOT_LITERAL or right is NOT_LITERAL:
            return NOT_LITERAL
        if isinstance(expr.operator, cst.Power) and isinstance(right, int) and abs(right) > 64:
            return NOT_LITERAL
        if isinstance(expr.operator, cst.Multiply) and any(
            isinstance(v, (str, list, tuple)) for v in (left, right)
        ):
            count = right if isinstance(left, (str, list, tuple)) else left
            if not isinstance(count, int) or count > MAX_UNROLL:
                return NOT_LITERAL
        return function(left, right)
    if isinstance(expr, cst.BooleanOperation):
        left = _fold(expr.left, lookup)
        if left is NOT_LITERAL:
            return NOT_LITERAL
        if isinstance(expr.operator, cst.And):
            return _fold(expr.right, lookup) if left else left
        return left if left else _fold(expr.right, lookup)
    if isinstance(expr, cst.Comparison):
        left = _fold(expr.left, lookup)
        if left is NOT_LITERAL:
            return NOT_LITERAL
        for target in expr.comparisons:
            function = _COMPARE.get(type(target.operator))
            right = _fold(target.comparator, lookup)
            if function is None or right is NOT_LITERAL:
                return NOT_LITERAL
            if isinstance(target.operator, (cst.Is, cst.IsNot)) and not _identity_known(
                left, right
            ):
                # Folded values are the build's own copies (`rows = [EMPTY]` holds a copy of
                # EMPTY here), and whether two equal numbers or strings are one object is
                # CPython's choice: only a singleton's identity is the same at run time.
                return NOT_LITERAL
            if not function(left, right):
                return False
            left = right
        return True
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
        function = _BUILTINS.get(expr.func.value)
        if function is None or lookup(expr.func.value) is not NOT_LITERAL:
            return NOT_LITERAL  # not a builtin, or shadowed by a constant of the same name
        args = []
        for arg in expr.args:
            if arg.star or arg.keyword is not None:
                return NOT_LITERAL
            value = _fold(arg.value, lookup)
            if value is NOT_LITERAL:
                return NOT_LITERAL
            args.append(value)
        return function(*args)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        return _fold_str_method(expr, expr.func, lookup)
    if isinstance(expr, cst.FormattedString):
        escaped = any(
            isinstance(p, cst.FormattedStringText) and "\\" in p.value for p in expr.parts
        )
        if escaped and "r" not in expr.prefix.lower():
            return NOT_LITERAL  # escapes in the text: leave them to Python rather than decode them
        return _fold_fstring(expr.parts, lookup)
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        container = _fold(expr.value, lookup)
        index = expr.slice[0].slice
        if container is NOT_LITERAL or not isinstance(index, cst.Index):
            return NOT_LITERAL
        key = _fold(index.value, lookup)
        return NOT_LITERAL if key is NOT_LITERAL else container[key]
    return NOT_LITERAL


def _fold_str_method(call: cst.Call, method: cst.Attribute, lookup: Callable[[str], Any]) -> Any:
    receiver = _fold(method.value, lookup)
    if not isinstance(receiver, str) or method.attr.value not in _STR_METHODS:
        return NOT_LITERAL
    args: list[Any] = []
    keywords: dict[str, Any] = {}
    for arg in call.args:
        if arg.star:
            return NOT_LITERAL
        value = _fold(arg.value, lookup)
        if value is NOT_LITERAL:
            return NOT_LITERAL
        if arg.keyword is None:
            args.append(value)
        else:
            keywords[arg.keyword.value] = value
    if method.attr.value == "format" and any(
        not isinstance(v, (str, int, float, bool)) for v in (*args, *keywords.values())
    ):
        return NOT_LITERAL  # `{0.attr}` could reach into objects: keep to plain values
    return getattr(receiver, method.attr.value)(*args, **keywords)


def _fold_fstring(
    parts: Sequence[cst.BaseFormattedStringContent], lookup: Callable[[str], Any]
) -> Any:
    pieces: list[str] = []
    for part in parts:
        if isinstance(part, cst.FormattedStringText):
            pieces.append(part.value.replace("{{", "{").replace("}}", "}"))
            continue
        if not isinstance(part, cst.FormattedStringExpression) or part.equal is not None:
            return NOT_LITERAL
        value = _fold(part.expression, lookup)
        if value is NOT_LITERAL or not isinstance(value, (str, int, float, bool, type(None))):
            return NOT_LITERAL
        if part.conversion is not None:
            value = _CONVERSIONS[part.conversion](value)
        spec = "" if part.format_spec is None else _fold_fstring(part.format_spec, lookup)
        if spec is NOT_LITERAL:
            return NOT_LITERAL
        pieces.append(format(value, spec))
    return "".join(pieces)
