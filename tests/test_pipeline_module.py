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


def test_nested_classes_keep_their_class_across_steps_and_glue(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import enum
from dataclasses import dataclass

from pipec import PipelineDecorator


class Shapes:
    class Kind(enum.Enum):
        ROUND = 1
        SQUARE = 2

    @dataclass
    class Box:
        side: int

        @dataclass
        class Lid:
            open: bool


@PipelineDecorator.component(return_values=["kind", "box", "lid"])
def make(n):
    return Shapes.Kind.ROUND, Shapes.Box(n), Shapes.Box.Lid(n > 1)


@PipelineDecorator.component(return_values=["same"])
def check(kind, box, lid):
    return (kind is Shapes.Kind.ROUND, isinstance(box, Shapes.Box),
            isinstance(lid, Shapes.Box.Lid), box == Shapes.Box(2))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    kind, box, lid = make(n)
    print(kind is Shapes.Kind.ROUND, isinstance(box, Shapes.Box), isinstance(lid, Shapes.Box.Lid))
    print(type(lid).__qualname__)
    return check(kind, box, lid)
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "True True True\nShapes.Box.Lid\n"
    assert plain.result == (True, True, True, True)


def _describing(sides: str) -> str:
    return f"""
from pipec import PipelineDecorator


class Box:
    def __init__(self, side):
        self.side = side

    def describe(self):
        return "box of " + {sides}


@PipelineDecorator.component(return_values=["box"], cache=True)
def make(n):
    return Box(n)


@PipelineDecorator.component(return_values=["text"], cache=True)
def describe(box):
    return box.describe()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    return describe(make(n))
"""


def test_a_changed_method_in_the_pipeline_module_misses_the_cache_of_the_steps_it_reaches(
    tmp_path: Path,
):
    # `describe`'s script does not carry Box: the method runs from steps/_pipec_pipeline.py.
    first = Differential(tmp_path / "first", _describing("str(self.side)"))
    assert "class Box" not in (first.build_dir / "steps" / "describe.py").read_text()
    plain, _ = first.same()
    assert plain.result == "box of 2"
    second = Differential(tmp_path / "second", _describing("str(self.side * 10)"))
    second.run_options = ["--cache-dir", str(first.folder / "cache")]
    plain, _ = second.same()
    assert plain.result == "box of 20"
    # The unchanged build is served from the same cache: the key is the code, not the folder.
    third = Differential(tmp_path / "third", _describing("str(self.side * 10)"))
    third.run_options = ["--cache-dir", str(first.folder / "cache")]
    third.same()
    assert "cached" in third.states().values()
