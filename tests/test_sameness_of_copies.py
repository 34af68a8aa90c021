"""Tests of sameness a compiled run would answer from copies: a step's output tested for identity
with what it was given (PC618), `==` and lookups that are identity for objects of a class with
no `__eq__` (PC619), and an `id(...)` kept across a step call (PC620). Each is refused at its
line, or builds and answers as plain Python does."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator


class Box:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return f"Box({self.v})"


@PipelineDecorator.component(return_values=["b"])
def keep(b):
    return b


@PipelineDecorator.component(return_values=["b"])
def fresh(v):
    return Box(v)


@PipelineDecorator.component(return_values=["n"])
def size(b):
    return len(b)


@PipelineDecorator.component(return_values=["i"])
def last(xs) -> int:
    return len(xs) - 1


@PipelineDecorator.component(return_values=["i"])
def last_unsaid(xs):
    return len(xs) - 1

"""


def pipeline(tmp_path: Path, controller: str) -> Differential:
    return Differential(tmp_path, STEPS + controller)


def _codes_and_lines(run: Differential) -> list[tuple[str, int]]:
    """Each refusal's code and its line within the controller's text."""
    assert run.refusal is not None, "the build was expected to refuse"
    return [(d.code, d.location.line - STEPS.count("\n")) for d in run.refusal.diagnostics]


def test_a_step_output_tested_for_identity_with_what_the_step_was_given_is_refused(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(rows: list = [3, 1]):
    box = Box(1)
    other = keep(box)
    print(other is box)
    pair = keep([box, 1])
    twice = keep(other)
    kept = keep(rows)
    print(pair[0] is box, twice is not box, kept is rows, twice is other)
""",
    )
    assert _codes_and_lines(run) == [
        ("PC618", 5),
        ("PC618", 9),
        ("PC618", 9),
        ("PC618", 9),
        ("PC618", 9),
    ]
    assert run.refusal is not None
    assert "a step called as a function returned" in run.refusal.diagnostics[0].message


def test_identity_tests_of_step_outputs_that_hold_in_a_compiled_run_keep_building(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    box = Box(1)
    made = fresh(2)
    other = keep(box)
    n = keep(3)
    print(other is None, made is box, n is not None, type(other) is Box, isinstance(made, Box))
    return n
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "False False True True True\n"


def test_equality_that_is_identity_between_copies_is_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    box = Box(1)
    other = keep(box)
    print(other == box, other != box)
    rows = [box, Box(2)]
    lookup = {box: "first"}
    MISSING = object()
    table = {"k": MISSING}
    n = size(rows)
    print(box in rows, box not in rows, rows.index(box), rows.count(box))
    print(lookup[box], lookup.get(box), [box] == rows[:1])
    rows.remove(box)
    print(table["k"] == MISSING, [b.v for b in rows if b != box], any(box == b for b in rows))
""",
    )
    assert _codes_and_lines(run) == [
        ("PC619", 5),
        ("PC619", 5),
        ("PC619", 11),
        ("PC619", 11),
        ("PC619", 11),
        ("PC619", 11),
        ("PC619", 12),
        ("PC619", 12),
        ("PC619", 12),
        ("PC619", 13),
        ("PC619", 14),
        ("PC619", 14),
        ("PC619", 14),
    ]
    assert run.refusal is not None
    first = run.refusal.diagnostics[0]
    assert "`Box` (a class of the file with no `__eq__`)" in first.message
    assert "`object()` sentinels" in first.message
    assert "give the class an `__eq__`" in first.hint


def test_equality_that_keeps_its_answer_builds(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    box = Box(1)
    made = fresh(2)
    other = keep(box)
    print(other.v == box.v, made == box, made.v in [2], other == 3, made != None)
    rows = [box, made]
    lookup = {box: "first"}
    print(rows.index(box), rows[0] == box, box in rows, lookup[box], [b.v for b in rows if b == box])
    k = keep(7)
    print(k == 7, k in [7], {7: "seven"}[k], [box.v, made.v] == [1, 2], rows[1] == made)
    return k
""",
    )
    plain, _ = run.same()
    assert plain.stdout == (
        "True False True False True\n0 True True first [1]\nTrue True seven True True\n"
    )


def test_classes_with_an_equality_of_their_own_compare_copies_as_python_does(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from pipec import PipelineDecorator


@dataclass
class Point:
    x: int


class Mode(Enum):
    FAST = 1


class Pair(NamedTuple):
    a: int
    b: int


class Named:
    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Named) and other.name == self.name

    __hash__ = None


class Label(Named):
    pass


@PipelineDecorator.component(return_values=["b"])
def keep(b):
    return b


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    point, pair, label = Point(1), Pair(1, 2), Label("a")
    rows = [[1], [2]]
    same = keep([point, Mode.FAST, pair, label, rows])
    print(same == [point, Mode.FAST, pair, label, rows], point in same, same.index(label))
    print(same[4] == rows, rows[0] in same[4], same[4].count([2]))
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True 3\nTrue True 1\n"


def test_an_id_kept_across_a_step_call_is_refused_where_it_is_compared(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    xs = [1, 2]
    box = Box(1)
    first = id(xs)
    seen = set()
    for item in [xs, box]:
        seen.add(id(item))
    names = {id(box): "box"}
    n = size(xs)
    print(id(xs) == first, n)
    print(id(box) in seen, names.get(id(box)), names[id(box)])
    again = keep(first)
    print(first != id(xs), again == id(xs))
    salted = hash("key")
    m = size(xs)
    print(salted == hash("key"), m)
""",
    )
    assert _codes_and_lines(run) == [
        ("PC620", 11),
        ("PC620", 12),
        ("PC620", 12),
        ("PC620", 12),
        ("PC620", 14),
        ("PC620", 14),
        ("PC620", 17),
    ]
    assert run.refusal is not None
    assert "(`first`)" in run.refusal.diagnostics[0].message
    assert "no step call between them" in run.refusal.diagnostics[0].hint


def test_ids_taken_and_compared_in_one_block_keep_building(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    xs = [1, 2]
    first = id(xs)
    print(id(xs) == first)
    n = size(xs)
    again = id(xs)
    print(id(xs) == again, id(xs) == id(xs), n)
    return n
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True\nTrue True 2\n"


def test_module_level_objects_and_fanned_out_outputs_apart_from_their_copies_are_refused(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
MISSING = object()
DEFAULT = Box(0)


@PipelineDecorator.component(return_values=["b"])
def lookup(d):
    return d.get("k", MISSING)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(table: dict = {"a": 1}):
    x = table.get("k", MISSING)
    boxes = [Box(1), Box(2)]
    got = [keep(b) for b in boxes]
    found = lookup(table)
    print(x is MISSING, x == MISSING, found is MISSING, DEFAULT == DEFAULT)
    print(got[0] is boxes[0], got[1] == boxes[1], x == DEFAULT)
""",
    )
    assert sorted(_codes_and_lines(run), key=lambda found: found[1]) == [
        ("PC618", 16),
        ("PC618", 16),
        ("PC619", 16),
        ("PC618", 17),
        ("PC619", 17),
    ]


def test_a_file_without_objects_equal_only_to_themselves_compares_copies_as_python_does(
    tmp_path: Path,
):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["b"])
def keep(b):
    return b


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(rows: list = [[1], [2]]):
    table = {"k": rows}
    same = keep(rows)
    print(same == rows, rows[0] in same, table["k"] == same, same.index([2]), same != rows)
    return same
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True True 1 False\n"


def test_a_step_that_says_it_returns_a_number_gives_none_of_its_arguments_back(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    boxes = [Box(1), Box(2)]
    names = {0: "first", 1: "second"}
    i = last(boxes)
    print(boxes[i], names[i], boxes.index(boxes[i]) == i)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "Box(2) second True\n"


def test_a_lookup_by_what_a_step_may_have_given_back_is_refused(tmp_path: Path):
    # Without `-> int` the step may return one of the boxes, which `boxes[i]` would look up.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    boxes = [Box(1), Box(2)]
    i = last_unsaid(boxes)
    print(boxes[i])
""",
    )
    assert _codes_and_lines(run) == [("PC619", 5)]
