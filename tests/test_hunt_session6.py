"""Divergences a hunt over untried controller shapes found: each runs as plain Python does, or is
refused at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

_ONE = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x

"""


def test_del_after_a_read_in_the_same_glue_leaves_the_read_its_value(tmp_path: Path):
    # `y = x + 1` and `print(x, y)` are queued as glue when `del` comes: they still read the
    # value the name had, and only later reads find it unbound.
    run = Differential(
        tmp_path,
        _ONE
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    x = one(a)
    y = x + 1
    del x
    x = one(y)
    print(x, y)
    del y
    return x
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "2 2\n"
