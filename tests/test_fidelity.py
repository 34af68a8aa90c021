"""Issue 9: a compiled run prints, returns and fails as the file run as plain Python does — or
the build refuses. Each case is a family of divergences found by comparing the two."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["total"])
def total(xs):
    return sum(xs)

"""


def pipeline(tmp_path: Path, controller: str) -> Differential:
    return Differential(tmp_path, STEPS + controller)


# ---- family 5: a glue statement that raises stops everything after it -----------------------


def test_a_raising_glue_statement_stops_the_steps_and_prints_after_it(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, d: int = 0):
    b = one(a)
    ratio = a / d
    c = one(b)
    print(c)
    return c, ratio
""",
    )
    plain, _ = run.same()
    assert "ZeroDivisionError" in plain.error
    run.same(d=2)


def test_a_raising_glue_statement_before_an_independent_step_stops_it(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 2]):
    first = xs[5]
    print("after the index")
    return one(3), first
""",
    )
    run.same()
    run.same(xs=[0, 1, 2, 3, 4, 5])


# ---- family 2: a glue-only `if` nested under `else`/`elif` keeps the earlier value --------------


def test_a_glue_only_if_under_else_keeps_the_value_the_name_had(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, flag: bool = False):
    b = one(a)
    name = "before"
    count = b
    if b > 5:
        c = one(b)
    elif b > 3:
        c = one(a)
    else:
        if flag:
            name = "flagged"
        for i in range(a):
            count = count + i
    print(name, count)
    return name, count
""",
    )
    for params in ({}, {"flag": True}, {"a": 3}, {"a": 9}, {"a": 0, "flag": True}):
        run.same(**params)


# ---- family 10: Python's scoping rules -------------------------------------------------------


def test_reading_a_name_bound_in_a_branch_that_did_not_run_fails_as_python_does(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    if a > 5:
        c = one(a)
    print("here")
    return [c, a]
""",
    )
    plain, compiled = run.same()
    assert "UnboundLocalError" in plain.error and "'c'" in plain.error
    run.same(a=7)


def test_assigning_a_step_name_in_the_controller_is_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    total = total([a, 2])
    return total
""",
    )
    assert run.refused_codes == ["PC603"]
    assert "UnboundLocalError" in run.plain().error
