"""Issue 9, family 9: objects of the pipeline file's own classes, and its functions, keep their
identity from step to step and through glue, as in one Python process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

CLASSES = """
import enum
from dataclasses import dataclass

from pipec import PipelineDecorator


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclass
class Point:
    x: int
    y: int


class Plain:
    def __init__(self, n):
        self.n = n


def double(v):
    return v * 2


@PipelineDecorator.component(return_values=["c"])
def make_color(n):
    return Color.RED if n == 1 else Color.BLUE


@PipelineDecorator.component(return_values=["p", "q"])
def make_objects(n):
    return Point(n, n), Plain(n)


@PipelineDecorator.component(return_values=["same"])
def check(c, p, q):
    return (c is Color.RED, c == Color.RED, isinstance(p, Point), p == Point(1, 1),
            isinstance(q, Plain))


@PipelineDecorator.component(return_values=["f"])
def give_function():
    return double


@PipelineDecorator.component(return_values=["r"])
def use_function(f):
    return f is double, f(3)

"""


def test_enum_members_dataclasses_and_functions_keep_their_class_across_steps(tmp_path: Path):
    run = Differential(
        tmp_path,
        CLASSES
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    c = make_color(n)
    p, q = make_objects(n)
    print(c is Color.RED, c == Color.RED, isinstance(p, Point), p == Point(1, 1))
    print(isinstance(q, Plain), type(c).__name__)
    f = give_function()
    print(f is double)
    return check(c, p, q), use_function(f)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True True True\nTrue Color\nTrue\n"
    run.same(n=2)


def test_glue_that_does_not_name_a_class_passes_its_objects_on(tmp_path: Path):
    run = Differential(
        tmp_path,
        CLASSES
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    c = make_color(n)
    p, q = make_objects(n)
    both = [c, p, q]
    print(len(both), both[1])
    return check(both[0], both[1], both[2])
""",
    )
    plain, _ = run.same()
    assert plain.result == (True, True, True, True, True)


def test_an_output_loads_by_hand_with_the_steps_folder_on_the_path(tmp_path: Path):
    run = Differential(
        tmp_path,
        CLASSES
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    return make_color(n)
""",
    )
    steps = run.build_dir / "steps"
    assert (steps / "_pipec_pipeline.py").exists()
    script = steps / "make_color.py"
    subprocess.run(
        [sys.executable, str(script), "--value", "n=1", "--output", f"c={tmp_path / 'c.pkl'}"],
        check=True,
        cwd=tmp_path,
    )
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle, sys; sys.path.insert(0, sys.argv[1]);"
            "print(pickle.load(open(sys.argv[2], 'rb')))",
            str(steps),
            str(tmp_path / "c.pkl"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "Color.RED\n"
