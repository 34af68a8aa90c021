"""A generator expression that calls steps runs as in Python, or is refused.

pipec runs every call of `(step(x) for x in xs)`; Python runs them as the consumer asks, and
`any(...)` stopped before the call that would fail (`10 // 0`), so plain Python printed True
where the compiled run failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEP = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["ratio"])
def ratio(x):
    return 10 // x

"""


def test_generators_a_consumer_takes_whole_run_as_in_python(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEP
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 2, 5]):
    total = sum(ratio(x) for x in [1, 2])
    biggest = max(ratio(x) for x in xs)
    ordered = sorted((ratio(x) for x in [1, 2]), key=abs)
    print(*(ratio(x) for x in [5, 10]))
    print(", ".join(str(ratio(x)) for x in [1, 2]))
    return total, biggest, ordered
""",
    )
    run.same()
    run.same(xs=[1, 0])


@pytest.mark.parametrize(
    "body",
    [
        "return any(ratio(x) > 2 for x in [1, 0])",
        "return all(ratio(x) > 2 for x in xs)",
        "values = (ratio(x) for x in xs)\n    return next(values)",
        "return [i for i, v in enumerate(ratio(x) for x in xs) if v > 2]",
    ],
)
def test_generators_python_would_not_run_to_the_end_are_refused(tmp_path: Path, body: str):
    run = Differential(
        tmp_path,
        STEP
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 0]):
    {body}
""",
    )
    assert "PC499" in run.refused_codes
