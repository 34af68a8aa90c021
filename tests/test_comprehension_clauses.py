"""A comprehension whose `if` reads the target of a later `for` clause builds and runs as in Python.

libcst's scope analysis finds no assignment for `y` in `[y for x in a for y in b if y > x]`;
pipec took it for an undefined name and refused the program (PC602/PC603).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


def test_a_later_clauses_target_read_in_its_filter_in_glue_and_in_a_step(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["pairs"])
def above(xs, ys):
    return [(x, y) for x in xs for y in ys if y > x]


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 2, 3]):
    out = [one(x) for x in xs]
    pairs = [(x, y) for x in xs for y in out if y > x]
    nested = [z for row in [xs, out] for z in row if z % 2 for _ in [z] if z > 1]
    print(pairs, nested)
    return pairs, above(xs, out)
""",
    )
    run.same()
    run.same(xs=[])
