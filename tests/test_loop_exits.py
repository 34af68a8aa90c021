"""Issue 9 families 5 and 6 inside a loop over a run-time value: the program ends at element k.

Python runs elements 0..k-1 fully, element k up to the statement that ends it (glue calling
`sys.exit`, glue that raises, a step that fails), and nothing after. The compiled run must
print, return and exit as Python does, and run exactly the steps Python ran: each step prints
a line (on stderr, prefixed with its name, in both runs), and those lines are compared too.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from differential import PIPEC, Differential, Outcome, assert_same

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

HEADER = """
import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["items"])
def make(n):
    return list(range(n))


@PipelineDecorator.component(return_values=["v"])
def work(x, fail_at):
    print("work ran on", x)
    if x == fail_at:
        raise RuntimeError(f"work failed on {x}")
    return x * 10


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 6, exit_at: int = -1, raise_at: int = -1, fail_at: int = -1):
    items = make(n)
    out = []
    print("before the loop")
    for x in items:
"""

# The glue that ends the program: sys.exit(3) at exit_at, ZeroDivisionError at raise_at.
_GLUE = """\
        if x == exit_at:
            sys.exit(3)
        share = 60 // (x - raise_at)
"""
_STEP = """\
        y = work(x, fail_at)
"""
# The body's last glue computes with the step's output, or the step's output is gathered as is.
_GATHER_SUM = """\
        out.append(y + share)
"""
_GATHER = """\
        out.append(y)
"""
_AFTER = """\
    print("after the loop", out)
    return out
"""

_STEP_LINE = re.compile(r"^\[(work|slow)(\[\d+\])?\] (?P<text>\w+ ran on \d+)$")


def _steps_run(stderr: str) -> Counter[str]:
    """What the steps printed, whatever their order (elements run in parallel)."""
    found = (_STEP_LINE.match(line) for line in stderr.splitlines())
    return Counter(match["text"] for match in found if match)


def _pipeline(folder: Path, glue_first: bool, after: bool, sums: bool) -> Differential:
    body = (_GLUE + _STEP if glue_first else _STEP + _GLUE) + (_GATHER_SUM if sums else _GATHER)
    return Differential(folder, HEADER + body + (_AFTER if after else ""))


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((False, True, True), id="step-then-glue,sum,after"),
        pytest.param((False, True, False), id="step-then-glue,after"),
        pytest.param((False, False, False), id="step-then-glue,last"),
        pytest.param((True, True, False), id="glue-then-step,after"),
        pytest.param((True, False, True), id="glue-then-step,sum,last"),
    ],
)
def loop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Differential:
    return _pipeline(tmp_path_factory.mktemp("loop"), *request.param)


def _same(run: Differential, strict: bool = True, **params: int) -> tuple[Outcome, Outcome]:
    plain, compiled = run.plain(**params), run.compiled(**params)
    # The error Python ended with: its last stderr line that is not a step's printing.
    own = [line for line in plain.stderr.splitlines() if not _STEP_LINE.match(line)]
    plain.error = own[-1] if own and not plain.ok else ""
    assert_same(plain, compiled)
    ran, python_ran = _steps_run(compiled.stderr), _steps_run(plain.stderr)
    assert ran == python_ran if strict else ran >= python_ran, compiled.stderr
    return plain, compiled


@pytest.mark.parametrize("k", [0, 2])
def test_sys_exit_in_glue_at_element_k_ends_the_run_after_the_elements_before_it(
    loop: Differential, k: int
):
    plain, compiled = _same(loop, exit_at=k)
    assert plain.exit_code == compiled.exit_code == 3
    assert "after the loop" not in compiled.stdout


@pytest.mark.parametrize("k", [0, 2])
def test_glue_raising_at_element_k_fails_the_run_after_the_elements_before_it(
    loop: Differential, k: int
):
    plain, compiled = _same(loop, raise_at=k)
    assert "ZeroDivisionError" in plain.error
    assert plain.exit_code == compiled.exit_code == 1


def test_a_step_failing_at_element_k_fails_the_run(loop: Differential):
    # A failed step does not stop independent steps (documented): later elements' steps may
    # run; everything else is as in Python.
    plain, _ = _same(loop, strict=False, fail_at=2)
    assert "work failed on 2" in plain.error


def test_the_earliest_end_in_program_order_wins(loop: Differential):
    # A step fails at element 1, the glue exits at element 3: Python never reaches the exit.
    # (Steps after the failed one may run: a failed step does not stop independent steps.)
    plain, _ = _same(loop, strict=False, fail_at=1, exit_at=3)
    assert plain.exit_code == 1
    plain, _ = _same(loop, raise_at=1, exit_at=3)
    assert plain.exit_code == 1


def test_a_loop_that_ends_normally_still_runs_every_element(loop: Differential):
    plain, _ = _same(loop)
    assert plain.ok


def test_one_worker_runs_the_elements_before_the_exit(loop: Differential):
    loop.run_options = ["--workers", "1"]
    try:
        _same(loop, exit_at=2)
        _same(loop, raise_at=2)
    finally:
        loop.run_options = []


STRAIGHT = """
import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def slow(x):
    import time

    time.sleep(1)
    print("slow ran on", x)
    return x


@PipelineDecorator.component(return_values=["v"])
def work(x, fail_at):
    print("work ran on", x)
    if x == fail_at:
        raise RuntimeError(f"work failed on {x}")
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(fail_at: int = -1):
    a = slow(1)
    b = work(a, fail_at)
    sys.exit(3)
    return b
"""


def test_sys_exit_after_steps_it_does_not_read_lets_them_run_first(tmp_path: Path):
    # The glue reads nothing: it may end before `slow` does, and `work` is still waiting then.
    run = Differential(tmp_path, STRAIGHT)
    plain, _ = _same(run)
    assert plain.exit_code == 3
    assert _steps_run(plain.stderr) == Counter({"slow ran on 1": 1, "work ran on 1": 1})
    plain, _ = _same(run, fail_at=1)
    assert plain.exit_code == 1
