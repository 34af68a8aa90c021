"""``==``, ``hash`` and ``repr`` for the runtime's frozen dataclasses, written once.

``@dataclass(frozen=True)`` writes six methods as source text for every class it decorates and
compiles them when the module is imported; with some fifty such classes on the path of ``pipec
run`` that compiling was a sixth of its fixed cost.  A class declared

    @dataclass(frozen=True, eq=False, repr=False)
    class Name(ValueMethods): ...

gets three compiled (``__init__`` and the frozen ``__setattr__`` and ``__delattr__``) and inherits
the other three from here, which answer as the generated ones do: equal only to an instance of
the very same class whose compared fields are equal, the hash of those fields' tuple, and
``Name(field=value, ...)`` over the shown fields, ``...`` for an instance met again while it is
being shown.
"""

from __future__ import annotations

import dataclasses
from reprlib import recursive_repr
from typing import Any

__all__ = ["ValueMethods"]

# Per class: the fields compared (and so hashed) and the fields shown, in declaration order.
_FIELD_NAMES: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _field_names(cls: type[Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        fields = dataclasses.fields(cls)
        compared = tuple(f.name for f in fields if f.compare)
        hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        shown = tuple(f.name for f in fields if f.repr)
        names = _FIELD_NAMES[cls] = (compared, hashed, shown)
    return names


class ValueMethods:
    """The value methods of a frozen dataclass declared with ``eq=False, repr=False``."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        compared = _field_names(self.__class__)[0]
        return tuple(getattr(self, n) for n in compared) == tuple(
            getattr(other, n) for n in compared
        )

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _field_names(self.__class__)[1]))

    @recursive_repr("...")
    def __repr__(self) -> str:
        shown = _field_names(self.__class__)[2]
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{self.__class__.__qualname__}({inner})"
