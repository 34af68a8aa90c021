"""Compile-time constants: reading them from source text and writing them into the manifest."""

from __future__ import annotations

import ast
import math
from typing import Any

__all__ = ["NOT_LITERAL", "encode_literal", "read_literal"]


class _NotLiteral:
    def __repr__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL: Any = _NotLiteral()


def read_literal(code: str) -> Any:
    """The value of a Python literal written in `code`, or NOT_LITERAL. Never evaluates anything else."""
    try:
        return ast.literal_eval(code.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_LITERAL


def _json_exact(value: Any) -> bool:
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_exact(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v) for k, v in value.items())
    return False


def encode_literal(value: Any) -> dict[str, Any]:
    """`{"value": v}` when JSON holds `v` exactly, else `{"literal": repr(v)}` for `ast.literal_eval`."""
    if _json_exact(value):
        return {"value": value}
    return {"literal": repr(value)}
