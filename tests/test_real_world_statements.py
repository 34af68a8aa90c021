"""Issue 10, items 3, 5 and 10: controller statements real pipelines use build and run as plain
Python runs them, or are refused at their line with the true cause."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


# ---- `import a.b.c` binds `a`: every script that reads `a.b.c.f` imports it -------------------


def test_dotted_imports_reach_glue_and_steps_at_every_level(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import os.path
import xml.etree.ElementTree

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    import email.utils

    return os.path.join(x, "a") + xml.etree.ElementTree.__name__ + email.utils.__name__


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: str = "x"):
    import json.decoder

    b = one(a)
    c = os.path.join(b, "z")
    d = json.decoder.__name__ + xml.etree.ElementTree.__name__
    print(c, d)
    return c, d
""",
    )
    run.same()


# ---- item 3: one output whose value is a tuple, unpacked by the caller ------------------------

ONE_OUTPUT = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["pair"])
def split(n):
    return tuple(range(n))


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    print("before")
    low, high = split(n)
    print("unpacked", low, high)
    return one(low), one(high)
"""


def test_one_output_holding_a_tuple_unpacks_at_run_time_as_in_python(tmp_path: Path):
    run = Differential(tmp_path, ONE_OUTPUT)
    run.same()
    plain, _ = run.same(n=3)
    assert plain.error == "ValueError: too many values to unpack (expected 2)"
    plain, _ = run.same(n=1)
    assert plain.error.startswith("ValueError: not enough values to unpack")
