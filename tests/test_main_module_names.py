"""The pipeline file's classes and functions belong to `__main__` in a compiled run, as they do in
`python pipeline.py`: what a user prints of them (`type(x)`, `Box.__module__`, `repr(helper)`,
the last line of a traceback) reads the same, in the glue and in the steps.

Each script finds the file's definitions through one importable home, `_pipec_pipeline`, so that
`isinstance`, `is` and `==` of enum members hold from step to step; that home is how a pickle
refers to them, not their name. The reference is a real `python pipeline.py` run, whose module is
`__main__`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential, Outcome

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

SHOWING = """
import enum
import pickle

from pipec import PipelineDecorator


class Box:
    def __init__(self, n):
        self.n = n

    def describe(self):
        return f"box of {self.n}"


class Color(enum.Enum):
    RED = 1


def helper(v):
    return v + 1


def shown(v):
    return " ".join([str(type(v)), type(v).__module__, f"{type(v)}", repr(type(v))])


@PipelineDecorator.component(return_values=["b", "c", "f", "k"])
def make(n):
    b = Box(n)
    print("make:", shown(b), Box.__module__, helper.__module__, repr(helper).split(" at ")[0])
    print("make:", shown(Color.RED), Box.describe.__module__)
    # a lambda, and a function made in a function, need cloudpickle; Box stays the one class
    return b, Color.RED, Box.describe, (lambda: Box(n + 1), Box(n + 2))


@PipelineDecorator.component(return_values=["r"])
def use(b, c, f, k):
    # This step's script does not carry Box: its objects come from the pipeline's home.
    print("use:", shown(b), shown(c), shown(k[1]))
    again = pickle.loads(pickle.dumps(b))
    return type(again) is type(b), again.n, f(b), type(k[0]()) is type(b), k[1].describe()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    b, c, f, k = make(n)
    print("glue:", shown(b), Box.__module__, helper.__module__, repr(Box), type(helper))
    print("glue:", shown(c), c is Color.RED, c == Color.RED, f is Box.describe, f(b))
    made = k[0]()
    print("glue:", isinstance(b, Box), isinstance(made, Box), isinstance(k[1], Box), made.n)
    print("glue:", repr(helper).split(" at ")[0], helper.__qualname__, shown(made))
    print("glue:", use(b, c, f, k))


if __name__ == "__main__":
    controller()
"""


def _printed(outcome: Outcome) -> list[str]:
    """The lines the program printed, in the glue and in the steps, in the order of each."""
    lines = outcome.stdout.splitlines() + outcome.stderr.splitlines()
    return [
        line
        for line in lines
        if line.removeprefix("[make] ").removeprefix("[use] ")[:5] in ("glue:", "make:", "use: ")
    ]


@pytest.mark.parametrize("options", [[], ["--cold"]], ids=["warm", "cold"])
def test_the_files_classes_and_functions_print_as_python_prints_them(
    tmp_path: Path, options: list[str]
):
    run = Differential(tmp_path, SHOWING)
    run.run_options = options
    program, compiled = run.as_program(), run.compiled()
    assert program.ok, program.stderr
    assert compiled.ok, compiled.stderr
    assert sorted(_printed(compiled)) == sorted(_printed(program))
    assert "glue: <class '__main__.Box'> __main__ <class '__main__.Box'>" in program.stdout
    assert "[use] use: <class '__main__.Box'> __main__" in compiled.stderr
    assert "glue: True True True 3" in compiled.stdout
    assert "glue: (True, 2, 'box of 2', True, 'box of 4')" in compiled.stdout
    assert "_pipec_pipeline" not in compiled.stdout + compiled.stderr
    assert "class Box" not in (run.build_dir / "steps" / "use.py").read_text()


RAISING = """
from pipec import PipelineDecorator


class PipelineError(Exception):
    pass


@PipelineDecorator.component(return_values=["v"])
def strict(x):
    if x > 2:
        raise PipelineError(f"x={{x}}")
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = strict(a)
    if v < 0:
        raise PipelineError("negative")
    return v


if __name__ == "__main__":
    controller(a={a})
"""


@pytest.mark.parametrize(("a", "where"), [(5, "strict"), (-1, "glue_1")])
def test_pythons_own_traceback_names_the_files_exception_as_python_does(
    tmp_path: Path, a: int, where: str
):
    # --verbose shows the traceback Python itself prints, which names the class by its module.
    run = Differential(tmp_path, RAISING.format(a=a))
    run.run_options = ["--verbose"]
    program, compiled = run.as_program(), run.compiled()
    assert not program.ok and not compiled.ok
    assert program.error.startswith("PipelineError: "), program.stderr
    assert f"[{where}] {program.error}\n" in compiled.stderr
    assert "_pipec_pipeline" not in compiled.stderr


SPAWNING = """
import multiprocessing

from pipec import PipelineDecorator


class Box:
    def __init__(self, n):
        self.n = n


def grow(box):
    return Box(box.n * 10)


@PipelineDecorator.component(return_values=["sizes"])
def spread(n):
    # A spawned worker imports the script afresh and finds `grow` and `Box` in it by name.
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        boxes = pool.map_async(grow, [Box(i) for i in range(n)]).get(timeout=60)
    return [b.n for b in boxes], type(boxes[0]) is Box, type(boxes[0]).__module__


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    print(spread(n))


if __name__ == "__main__":
    controller()
"""


@pytest.mark.parametrize("options", [[], ["--cold"]], ids=["warm", "cold"])
def test_a_step_hands_the_files_functions_to_spawned_workers_as_python_does(
    tmp_path: Path, options: list[str]
):
    run = Differential(tmp_path, SPAWNING)
    run.run_options = options
    program, compiled = run.as_program(), run.compiled()
    assert program.stdout == "([0, 10, 20], True, '__main__')\n", program.stderr
    assert compiled.stdout == program.stdout, compiled.stderr


def test_pipec_inspect_prints_a_value_of_a_class_of_the_file(tmp_path: Path):
    # Such a value is pickled by reference to the build's home of the file's classes, which
    # `pipec inspect` finds in the build's steps/ folder (it failed with ModuleNotFoundError).
    import subprocess

    run = Differential(
        tmp_path,
        """
from dataclasses import dataclass

from pipec import PipelineDecorator


@dataclass
class Box:
    v: int


@PipelineDecorator.component(return_values=["box"])
def make(v: int):
    return Box(v)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(v: int = 2):
    return make(v)
""",
    )
    ran = subprocess.run(
        [str(PIPEC), "run", str(run.build_dir)], capture_output=True, text=True, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    (record,) = tmp_path.rglob("run.json")
    run_dir = record.parent
    shown = subprocess.run(
        [str(PIPEC), "inspect", str(run_dir), "make"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "Box(v=2)\n"
