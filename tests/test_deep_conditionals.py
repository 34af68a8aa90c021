"""Deeply nested conditional expressions and `or`/`and` chains build and run as in Python.

Looking for step calls inside `a if t else (b if u else ...)` searched each level once more
for every level above it: 16 levels took 40 s to build and 60 never finished.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

DEPTH = 60


def _nested(levels: int, shape: str) -> str:
    expression = "v"
    for level in range(levels):
        expression = shape.format(inner=expression, level=level)
    return expression


def test_sixty_nested_conditionals_and_or_chains_in_glue(tmp_path: Path):
    glue_only = _nested(DEPTH, "({inner} if v > {level} else {level})")
    right_nested_or = _nested(DEPTH, "(v < {level} or {inner})")
    with_steps = _nested(6, "(double({level}) if v > {level} else {inner})")
    run = Differential(
        tmp_path,
        f"""
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def double(x):
    return 2 * x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3):
    v = double(a)
    plain = {glue_only}
    either = {right_nested_or}
    picked = {with_steps}
    print(plain, either, picked)
    return plain, either, picked
""",
    )
    run.same()
    run.same(a=-1)
