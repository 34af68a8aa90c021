"""State a module keeps in its process (a seeded generator, `os.environ`), changed by one node
and read by a later one: in Python the later code goes on from it, in a compiled run each node
is a process of its own. Such a program builds only where both give one answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

HEAD = """
import os
import random

import numpy as np

from pipec import PipelineDecorator
{module_level}

@PipelineDecorator.component(return_values=["v"])
def draw(a):
    return random.randint(0, 10_000) + a


@PipelineDecorator.component(return_values=["v"])
def draw_np(a):
    return int(np.random.randint(0, 10_000)) + a


@PipelineDecorator.component(return_values=["v"])
def seeded_draw(a):
    random.seed(a)
    return random.randint(0, 10_000)


@PipelineDecorator.component(return_values=["v"])
def own_generator(a):
    return int(np.random.default_rng(a).integers(0, 10_000))


@PipelineDecorator.component(return_values=["v"])
def set_mode(a):
    os.environ["PIPEC_TEST_MODE"] = "fast"
    return a + 1


def mode():
    return os.getenv("PIPEC_TEST_MODE", "slow")


@PipelineDecorator.component(return_values=["v"])
def read_mode(a):
    return mode() + str(a)


@PipelineDecorator.component(return_values=["n"])
def count(a):
    return a + 1

"""


def pipeline(tmp_path: Path, controller: str, module_level: str = "") -> Differential:
    return Differential(tmp_path, HEAD.format(module_level=module_level) + controller)


@pytest.mark.parametrize(
    ("module_level", "controller"),
    [
        # A module-level seed and one node that draws: every script runs the seed first.
        ("random.seed(3)", "v = draw(a)\n    print(v)"),
        ("np.random.seed(3)", "v = draw_np(a)\n    print(v, count(v))"),
        # Two steps drawing from different generators.
        ("random.seed(3)\nnp.random.seed(4)", "v = draw(a)\n    print(v, draw_np(v))"),
        # A step that seeds the generator itself, called twice, and a loop of them.
        ("random.seed(3)", "v = seeded_draw(a)\n    print(v, seeded_draw(a + 1))"),
        ("", "print([seeded_draw(x) for x in range(count(a))])"),
        # Steps with generators of their own.
        ("np.random.seed(3)", "print([own_generator(x) for x in range(count(a))])"),
        # os.environ set in a step that nothing else reads; read where nothing set it.
        ("", "v = set_mode(a)\n    print(v, count(v))"),
        ('os.environ["PIPEC_TEST_MODE"] = "module"', "print(read_mode(a), read_mode(a + 1))"),
    ],
)
def test_state_every_node_starts_from_builds_and_runs_as_in_python(
    tmp_path: Path, module_level: str, controller: str
):
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    {controller}
""",
        module_level,
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(a=5)


@pytest.mark.parametrize(
    ("module_level", "controller", "refused", "line"),
    [
        # A module-level seed drawn by two steps: the second goes on from the first's draws.
        ("random.seed(3)", "v = draw(a)\n    print(draw(v))", "PC697", 11),
        ("np.random.seed(3)", "v = draw_np(a)\n    print(v, draw_np(v))", "PC697", 16),
        # A seed set by controller code, or by a step, and drawn by a later step.
        ("", "random.seed(a)\n    print(draw(a))", "PC697", 11),
        ("", "v = seeded_draw(a)\n    print(draw(v))", "PC697", 11),
        # A draw in controller code, then a step's draw.
        ("random.seed(3)", "x = random.random()\n    print(x, draw(a))", "PC697", 11),
        # A step's draw, then a draw in controller code.
        ("random.seed(3)", "v = draw(a)\n    print(v, random.random())", "PC698", 53),
        # os.environ changed by a step, read by a later step (through a helper) or by the
        # controller.
        ("", "v = set_mode(a)\n    print(read_mode(v))", "PC697", 37),
        ("", 'v = set_mode(a)\n    print(v, os.environ.get("PIPEC_TEST_MODE"))', "PC698", 53),
        # A step drawing from the module-level seed, called in a loop over a run-time value.
        ("random.seed(3)", "print([draw(x) for x in range(count(a))])", "PC696", 11),
    ],
)
def test_state_a_node_changed_and_a_later_node_reads_is_refused_at_the_read(
    tmp_path: Path, module_level: str, controller: str, refused: str, line: int
):
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    {controller}
""",
        module_level,
    )
    assert run.refused_codes == [refused]
    (diagnostic,) = run.refusal.diagnostics  # type: ignore[union-attr]
    assert diagnostic.location is not None
    assert diagnostic.location.line == line + module_level.count("\n")
