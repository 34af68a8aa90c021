"""The differences between a compiled run and plain Python that stay on purpose (docs/controller.md,
"Where a compiled run differs from plain Python"): each one stays as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

_WAIT = """
def _wait_for(path, seconds=60.0):
    import os
    import time

    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
"""


def test_steps_without_a_data_edge_run_at_the_same_time_and_parents_orders_them(tmp_path: Path):
    # Each of `left` and `right` waits for the other to start: only steps that overlap in time
    # both see the other. `after` names `first` in parents= and sees it finished.
    run = Differential(
        tmp_path,
        f"""
from pipec import PipelineDecorator
{_WAIT}

@PipelineDecorator.component(return_values=["met"], helper_functions=[_wait_for])
def meet(folder, me, other):
    import os

    open(os.path.join(folder, me), "w").close()
    return _wait_for(os.path.join(folder, other))


@PipelineDecorator.component(return_values=["v"])
def first(folder):
    import os
    import time

    time.sleep(0.5)
    open(os.path.join(folder, "first-done"), "w").close()
    return 1


@PipelineDecorator.component(return_values=["saw"], parents=["first"])
def after(folder):
    import os

    return os.path.exists(os.path.join(folder, "first-done"))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(folder: str = "."):
    left = meet(folder, "left", "right")
    right = meet(folder, "right", "left")
    first(folder)
    saw = after(folder)
    return left, right, saw
""",
    )
    run.run_options = ["--workers", "2"]
    (tmp_path / "marks").mkdir()
    compiled = run.compiled(folder=str(tmp_path / "marks"))
    assert compiled.ok, compiled.stderr
    assert compiled.result == (True, True, True)


def test_a_steps_change_to_its_arguments_and_defaults_does_not_reach_the_caller(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def grow(items, seen=[]):
    items.append(99)
    seen.append(1)
    return len(seen)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    items = [a]
    first = grow(items)
    second = grow(items)
    print(items, first, second)
    return items
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert plain.stdout == "[1, 99, 99] 1 2\n"  # one process: the changes are shared
    assert compiled.stdout == "[1] 1 1\n"  # a process per step: each gets its own copy
    assert compiled.result == [1]


def test_what_a_step_returns_is_a_copy_even_when_it_returns_its_argument(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["same", "first"])
def echo(items):
    return items, items[0]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    items = [[a], 2]
    same, first = echo(items)
    same.append(9)
    first.append(8)
    print(items, same)
    return items
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert plain.stdout == "[[1, 8], 2, 9] [[1, 8], 2, 9]\n"  # the step returned its argument
    # Each output is a copy of its own: `first` is no longer the list inside `same` either.
    assert compiled.stdout == "[[1], 2] [[1], 2, 9]\n"
    assert compiled.result == [[1], 2]


def test_module_level_print_runs_in_no_step(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator

print("loading the module")


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    print("controller")
    return one(a)
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert plain.stdout == "loading the module\ncontroller\n"
    assert compiled.stdout == "controller\n"
    assert compiled.result == plain.result == 2


_FAILING = f"""
from pipec import PipelineDecorator
{_WAIT}

@PipelineDecorator.component(return_values=["v"])
def bad(folder):
    import os

    open(os.path.join(folder, "bad-started"), "w").close()
    raise ValueError("bad step")


@PipelineDecorator.component(return_values=["v"], helper_functions=[_wait_for])
def independent(folder):
    import os
    import time

    # Still running when `bad` fails: abort_on_failure=True stops it then.
    _wait_for(os.path.join(folder, "bad-started"))
    time.sleep(3)
    open(os.path.join(folder, "independent-done"), "w").close()
    return 1


@PipelineDecorator.pipeline(name="p", project="t", version="1"ABORT)
def controller(folder: str = "."):
    x = bad(folder)
    y = independent(folder)
    return x, y
"""


@pytest.mark.parametrize(("abort", "state"), [(False, "succeeded"), (True, "aborted")])
def test_a_failed_step_stops_an_independent_one_only_with_abort_on_failure(
    tmp_path: Path, abort: bool, state: str
):
    source = _FAILING.replace("ABORT", ", abort_on_failure=True" if abort else "")
    run = Differential(tmp_path, source)
    run.run_options = ["--workers", "2"]
    plain_marks, compiled_marks = tmp_path / "plain", tmp_path / "compiled"
    plain_marks.mkdir()
    compiled_marks.mkdir()
    plain = run.plain(folder=str(plain_marks))
    assert not plain.ok and "ValueError: bad step" in plain.error
    assert not (plain_marks / "independent-done").exists()  # Python stops at the failure
    compiled = run.compiled(folder=str(compiled_marks))
    assert not compiled.ok and "bad step" in compiled.stderr
    assert run.states()["bad"] == "failed"
    assert run.states()["independent"] == state
    assert (compiled_marks / "independent-done").exists() is (not abort)


def test_controller_code_that_reads_no_output_of_a_failed_step_still_runs(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def bad(x):
    raise ValueError("bad step")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = bad(a)
    print("after the call")
    return a
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert not plain.ok and plain.stdout == ""  # Python stops at the failing call
    # The print does not wait for a step whose outputs it does not read, as in ClearML, where
    # the call returns at once: it runs; the run still fails.
    assert not compiled.ok and compiled.stdout == "after the call\n"
    assert run.states()["bad"] == "failed"
