"""A step that rebinds a module-level name with `global` runs as in Python, or is refused.

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

CACHE = None


@PipelineDecorator.component(return_values=["v"])
def lookup(x):
    global CACHE
    if CACHE is None:
        CACHE = {n: n * n for n in range(10)}
    return CACHE[x]

"""


def test_a_global_only_the_one_call_reads_runs_as_in_python(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEP
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3):
    v = lookup(a)
    print(v)
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
    assert diagnostic.location.line == 8  # `global CACHE`
