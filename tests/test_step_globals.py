"""A step that changes a module-level value runs as in Python, or is refused.

Plain Python keeps the new value for whatever runs later in the process; a compiled step runs
in a process of its own. Only the first case below can run the same both ways.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEP = """
from pipec import PipelineDecorator

import os

CACHE = None
SEEN = []


class Tally:
    total = 0


@PipelineDecorator.component(return_values=["v"])
def lookup(x):
    global CACHE
    if CACHE is None:
        CACHE = {n: n * n for n in range(10)}
    return CACHE[x]


@PipelineDecorator.component(return_values=["n"])
def remember(x):
    SEEN.append(x)
    return len(SEEN)


@PipelineDecorator.component(return_values=["n"])
def count(x):
    Tally.total += x
    return Tally.total


@PipelineDecorator.component(return_values=["n"])
def local_only(x):
    seen = []
    seen.append(x)
    os.environ["PIPEC_TEST_LAST"] = str(x)
    return len(seen) + int(os.environ["PIPEC_TEST_LAST"])

"""


def test_changes_only_the_one_call_reads_run_as_in_python(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEP
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3):
    v = lookup(a)
    n = remember(v)
    print(v, n, count(n), local_only(n), local_only(v))
    return v
""",
    )
    run.same()


@pytest.mark.parametrize(
    "body",
    [
        "v = lookup(a)\n    return lookup(v % 10)",  # a second call would find CACHE set
        "v = lookup(a)\n    print(CACHE is None)\n    return v",  # so would the controller
        "return [lookup(x) for x in xs]",  # and each element of a fan-out after the first
    ],
)
def test_a_global_read_after_the_call_is_refused_at_the_global_statement(tmp_path: Path, body: str):
    run = Differential(
        tmp_path,
        STEP
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3, xs: list = [1, 2]):
    {body}
""",
    )
    assert run.refused_codes == ["PC148"]
    (diagnostic,) = run.diagnostics
    assert diagnostic.location.line == 15  # `global CACHE`


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("return remember(a) + remember(a)", 23),  # `SEEN.append(x)`
        ("n = count(a)\n    print(Tally.total)\n    return n", 29),  # `Tally.total += x`
    ],
)
def test_a_change_in_place_read_after_the_call_is_refused_at_its_line(
    tmp_path: Path, body: str, line: int
):
    run = Differential(
        tmp_path,
        STEP
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3):
    {body}
""",
    )
    assert run.refused_codes == ["PC148"]
    (diagnostic,) = run.diagnostics
    assert diagnostic.location.line == line
