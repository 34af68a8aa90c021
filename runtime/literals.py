"""Python literals as the manifest and the run record carry them.

A literal is ``{"value": <json>}`` when JSON holds it exactly, else ``{"literal": "<repr>"}``,
read back with :func:`ast.literal_eval` and never evaluated as code.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from pipec.value_methods import ValueMethods

__all__ = ["Literal", "LiteralError", "decode_literal", "encode_literal", "literal_source"]


class LiteralError(ValueError):
    """A literal that cannot be read."""


@dataclass(frozen=True, eq=False, repr=False)
class Literal(ValueMethods):
    """A constant value and the Python source text that reproduces it."""

    value: object
    source: str

    @classmethod
    def of(cls, value: object) -> Literal:
        """The literal of a value, written as Python source that reads back to it."""
        return cls(value, literal_source(value))


def literal_source(value: object) -> str:
    """`repr(value)`, except that infinite floats are written `1e999` (`repr` gives `inf`, which
    is a name and no literal), in containers too."""
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    if type(value) is list:
        return "[" + ", ".join(literal_source(item) for item in value) + "]"
    if type(value) is tuple:
        inner = ", ".join(literal_source(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if type(value) is dict:
        pairs = (f"{literal_source(k)}: {literal_source(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if type(value) is set and value:
        return "{" + ", ".join(literal_source(item) for item in value) + "}"
    return repr(value)


def decode_literal(data: dict[str, object]) -> Literal:
    """Read ``{"value": ...}`` or ``{"literal": "..."}``."""
    if "value" in data:
        value = data["value"]
        return Literal(value, repr(value))
    text = data.get("literal")
    if not isinstance(text, str):
        raise LiteralError('a literal is {"value": <json>} or {"literal": "<python repr>"}')
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise LiteralError(f"{text!r} is not a Python literal ({exc})") from None
    return Literal(value, text)


# Deeper values are written as their Python source: a manifest's JSON stays shallow enough for
# the runtime's validator, which refuses documents nested past its own limit.
_JSON_DEPTH = 16


def encode_literal(value: object) -> dict[str, object]:
    """The JSON form of a literal value: plain JSON when it round-trips exactly."""
    if _json_exact(value, _JSON_DEPTH):
        return {"value": value}
    return {"literal": literal_source(value)}


def _json_exact(value: object, depth: int) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth == 0:
        return False
    if isinstance(value, list):
        return all(_json_exact(item, depth - 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v, depth - 1) for k, v in value.items())
    return False
