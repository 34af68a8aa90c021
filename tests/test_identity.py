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


def _codes_and_lines(run: Differential) -> list[tuple[str, int]]:
    """Each refusal's code and its line within the controller's text."""
    assert run.refusal is not None
    return [(d.code, d.location.line - STEPS.count("\n")) for d in run.refusal.diagnostics]


def test_a_value_a_glue_branch_handed_on_is_refused_in_an_identity_test(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True):
    base = [1]
    x = [0]
    if flag:
        x = base
    n = one(1)
    print(x is base, n)
    print(id(x) == id(base), x is not base)
""",
    )
    assert _codes_and_lines(run) == [("PC618", 8), ("PC618", 9), ("PC618", 9)]
    assert run.refusal is not None
    assert "compare with `==`" in run.refusal.diagnostics[0].hint


def test_a_module_level_value_folded_into_a_value_is_refused_in_an_identity_test(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
EMPTY = []
TABLE = {"a": [1]}


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    rows = [EMPTY]
    print(rows[0] is EMPTY)
    x = TABLE["a"]
    n = one(1)
    print(x is TABLE["a"], n)
    if rows[0] is EMPTY:
        print("same")
""",
    )
    assert _codes_and_lines(run) == [("PC618", 8), ("PC618", 11), ("PC618", 12)]


def test_a_branch_value_holding_a_step_output_and_a_shared_list_keeps_the_list(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True, other: bool = True):
    base = [1]
    x = [base, one(1)] if flag else [base]
    print(x[0] is base)
    if flag:
        y = [base, one(2)]
    else:
        y = [base]
    z = ([base, one(4)] if other else [base]) if flag else [base, [2]]
    n = one(3)
    print(x[0] is base, y[0] is base, z[0] is base, x[-1], n)
    return x
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True\nTrue True True [1] [3]\n"
    run.same(flag=False)
    run.same(other=False)


def test_identity_of_values_that_share_no_object_in_python_builds(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
LIMITS = [2, 1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [3]):
    xs.extend(xs + LIMITS)
    rows = [xs]
    n = one(1)
    print(xs is LIMITS, rows is xs, [xs] is xs, n)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "False False False [1]\n"


def test_identity_tests_that_hold_in_a_compiled_run_keep_building(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
from enum import Enum

EMPTY = []
TABLE = {"a": [1]}


class Mode(Enum):
    FAST = 1
    SLOW = 2


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True):
    base = [1]
    x = [0]
    if flag:
        x = base
    print(x is base, id(x) == id(base), x is not base)
    rows = [EMPTY]
    print(EMPTY is EMPTY, TABLE["a"] is TABLE["a"], rows[0] is rows[0], rows[0] == EMPTY)
    mode = Mode.FAST if flag else Mode.SLOW
    n = one(1)
    m = n
    nothing = None if flag else 1
    print(m is n, type(n) is list, n is not None, flag is True, nothing is None)
    print(mode is Mode.FAST, type(mode) is Mode, x in [base], [base].index(x))
    return n
""",
    )
    plain, _ = run.same()
    assert plain.stdout.count("True") == 14
    run.same(flag=False)


def test_a_module_function_testing_the_identity_of_its_arguments_is_such_a_test(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
def same(a, b):
    return a is b


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True):
    base = [1]
    x = [0]
    if flag:
        x = base
    print(same(x, base), same(x, x))
    n = one(1)
    print(same(x, base), same(b=n, a=n), x in (base,))
""",
    )
    assert _codes_and_lines(run) == [("PC618", 13)]
