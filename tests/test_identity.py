"""Issue 9, family 1: one object reached in several places stays one object in a compiled run
(`rows = [base, base]`, `m = n`, a step's argument holding a list twice), or the build refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator

DEFAULTS = {"lr": 0.1}


@PipelineDecorator.component(return_values=["n"])
def one(x):
    return [x]


@PipelineDecorator.component(return_values=["same"])
def first_is_second(pair):
    return pair[0] is pair[1]


@PipelineDecorator.component(return_values=["grown"])
def grow_first(rows):
    rows[0].append(9)
    return rows


@PipelineDecorator.component(return_values=["same"])
def both_one(a, b):
    return a is b

"""


def pipeline(tmp_path: Path, controller: str) -> Differential:
    return Differential(tmp_path, STEPS + controller)


def test_containers_built_at_compile_time_keep_one_object_in_two_places(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(p: list = [5]):
    base = [1]
    rows = [base, base]
    table = {"a": base, "b": base}
    pair = (base, base)
    nested = [[base], [base]]
    times = [base] * 3
    held = [base]
    params = [p, p]
    twice = [DEFAULTS, DEFAULTS]
    n = one(1)
    print(rows[0] is rows[1], table["a"] is table["b"], pair[0] is pair[1])
    print(nested[0][0] is nested[1][0], times[0] is times[2], held[0] is base)
    print(params[0] is params[1], twice[0] is twice[1], rows, n)
    return rows
""",
    )
    plain, _ = run.same()
    assert plain.stdout.count("True") == 8


def test_a_step_output_named_twice_is_one_object(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    n = one(1)
    m = n
    rows = [n, n]
    print(m is n, rows[0] is rows[1], rows[0] is n)
    print(both_one(n, n), first_is_second([n, n]))
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True True\nTrue True\n"


def test_a_step_sees_one_object_twice_in_its_argument(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(p: list = [5]):
    base = [1]
    print(first_is_second([base, base]), first_is_second({0: p, 1: p}))
    grown = grow_first([base, base])
    print(grown)
    return grown
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True\n[[1, 9], [1, 9]]\n"


def test_two_step_arguments_reaching_one_list_are_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    base = [1]
    rows = [base]
    print(both_one(base, rows))
""",
    )
    assert run.refused_codes == ["PC617"]
    assert run.refusal is not None
    (diagnostic,) = run.refusal.diagnostics
    assert diagnostic.location.line == STEPS.count("\n") + 5
    assert "pass the object once" in diagnostic.hint


def test_equal_lists_stay_two_objects(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    a = [1]
    b = [1]
    n = one(1)
    print(a is b, [a, b][0] is [a, b][1], a == b)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "False False True\n"


def test_a_value_a_branch_picked_is_the_object_it_picked(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(p: int = 1):
    base = [1]
    n = one(p)
    if n[0] > 0:
        x = base
        m = one(2)
    else:
        x = [2]
    print(x is base, [x, base][0] is base, x)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True [1]\n"
    run.same(p=-1)
