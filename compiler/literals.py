"""Compile-time constants read from source text (the manifest's codec is `pipec.literals`)."""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["NOT_LITERAL", "read_literal"]


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
