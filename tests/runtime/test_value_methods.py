"""The shared value methods answer as the ones `@dataclass(frozen=True)` generates."""

from __future__ import annotations

import dataclasses
import pkgutil
from dataclasses import dataclass, field
from importlib import import_module

import pytest

import pipec
from pipec.value_methods import ValueMethods


@dataclass(frozen=True, eq=False, repr=False)
class Shared(ValueMethods):
    """Declared as the runtime declares its frozen classes."""

    name: str
    items: tuple[object, ...] = ()
    extra: list[object] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class Generated:
    """The same fields with dataclass's own methods: the reference."""

    name: str
    items: tuple[object, ...] = ()
    extra: list[object] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True, eq=False, repr=False)
class SharedChild(Shared):
    """A subclass: equal to no instance of its parent, as dataclass's methods say."""


@dataclass(frozen=True, eq=False, repr=False)
class Empty(ValueMethods):
    """No fields at all."""


@dataclass(frozen=True)
class GeneratedEmpty:
    """No fields, dataclass's own methods."""


_VALUES = [
    ("a", ()),
    ("a", (1, 2.0, "x")),
    ("b", (float("nan"),)),
    ("a", ((1, 2), None)),
]


@pytest.mark.parametrize(("left", "right"), [(a, b) for a in _VALUES for b in _VALUES])
def test_equality_and_hash_match_the_generated_methods(
    left: tuple[str, tuple[object, ...]], right: tuple[str, tuple[object, ...]]
) -> None:
    shared = (Shared(*left, extra=[1]), Shared(*right, extra=[2]))
    generated = (Generated(*left, extra=[1]), Generated(*right, extra=[2]))
    assert (shared[0] == shared[1]) == (generated[0] == generated[1])
    assert (shared[0] != shared[1]) == (generated[0] != generated[1])
    assert hash(shared[0]) == hash(generated[0])
    assert repr(shared[0]).replace("Shared", "Generated") == repr(generated[0])


def test_the_same_object_with_nan_is_equal_to_itself_as_tuples_say() -> None:
    nan = float("nan")
    assert Shared("a", (nan,)) == Shared("a", (nan,))
    assert Generated("a", (nan,)) == Generated("a", (nan,))


def test_other_classes_are_never_equal_and_get_notimplemented() -> None:
    assert Shared("a") != SharedChild("a")
    assert Generated("a") != Shared("a")
    assert Shared("a").__eq__(("a",)) is NotImplemented
    assert Shared("a") != ("a", ())
    assert {Shared("a"), Shared("a"), Shared("b")} == {Shared("b"), Shared("a")}


def test_no_fields() -> None:
    assert Empty() == Empty()
    assert hash(Empty()) == hash(GeneratedEmpty())
    assert repr(Empty()) == "Empty()"


def test_repr_of_a_value_that_contains_itself_says_dots() -> None:
    inner: list[object] = []
    shown = Shared("loop", (inner,))
    inner.append(shown)
    assert repr(shown) == "Shared(name='loop', items=([...],))"
    generated_inner: list[object] = []
    generated = Generated("loop", (generated_inner,))
    generated_inner.append(generated)
    assert repr(generated) == "Generated(name='loop', items=([...],))"


def test_still_frozen() -> None:
    value = Shared("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.name = "b"  # type: ignore[misc]
    assert dataclasses.replace(value, name="b") == Shared("b")


def _runtime_dataclasses() -> list[type]:
    found: list[type] = []
    for module_info in pkgutil.iter_modules(pipec.__path__):
        if module_info.name in ("dask_executor", "fsspec_store"):  # optional extras
            continue
        module = import_module(f"pipec.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and dataclasses.is_dataclass(value)
            ):
                found.append(value)
    return found


def test_every_frozen_runtime_class_has_value_methods() -> None:
    """A frozen class declared with eq=False and no shared methods would compare by identity."""
    classes = _runtime_dataclasses()
    assert len(classes) > 40
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        if params.frozen:
            assert params.eq or issubclass(cls, ValueMethods), cls
            assert params.repr or issubclass(cls, ValueMethods), cls
