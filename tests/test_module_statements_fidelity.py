"""Issue 9, module-level code: each process of a compiled run runs the file's module-level setup
once, in the file's order, before the step, as plain Python runs it once before the controller —
however the step reaches the file's classes and functions (its own copy, or the build's
steps/_pipec_pipeline.py when an input holds an object of a class the script does not carry)."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

# Each module-level statement below that changes the process would show, in what `use` returns,
# a second run of it: a counter in the environment, a handler list, a list the module extends.
SETUP = """
import logging
import os
import random
from dataclasses import dataclass

from pipec import PipelineDecorator

random.seed(1)
os.environ["PIPEC_TEST_LOADS"] = str(int(os.environ.get("PIPEC_TEST_LOADS", "0")) + 1)
logging.getLogger("pipec-test").addHandler(logging.NullHandler())
SEEN = []
SEEN.append(len(SEEN))
CONFIG = {}
CONFIG["scale"] = 10
SCALE = CONFIG["scale"]


@dataclass
class Box:
    n: int

    def scaled(self):
        return self.n * SCALE, list(SEEN)


def double(x):
    return 2 * x


def loads():
    return (
        os.environ["PIPEC_TEST_LOADS"],
        len(logging.getLogger("pipec-test").handlers),
        random.random(),
    )

"""


def test_an_input_of_a_class_the_script_does_not_carry_runs_no_setup_twice(tmp_path: Path):
    run = Differential(
        tmp_path,
        SETUP
        + """
@PipelineDecorator.component(return_values=["b"])
def make(x):
    return Box(x)


@PipelineDecorator.component(return_values=["v"])
def use(b):
    # `use` names neither Box nor SCALE: its script finds both in steps/_pipec_pipeline.py.
    return b.scaled(), SEEN, loads()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    b = make(a)
    v = use(b)
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result[0] == (10, [0]) and plain.result[2][:2] == ("1", 1)
    use_script = (run.build_dir / "steps" / "use.py").read_text()
    assert "class Box" not in use_script


def test_a_function_passed_by_reference_runs_no_setup_twice(tmp_path: Path):
    run = Differential(
        tmp_path,
        SETUP
        + """
@PipelineDecorator.component(return_values=["f"])
def pick(name):
    return double if name == "double" else str


@PipelineDecorator.component(return_values=["v"])
def apply(f, x):
    return f(x), loads()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(name: str = "double"):
    f = pick(name)
    v = apply(f, 21)
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result[0] == 42 and plain.result[1][:2] == ("1", 1)
    assert "def double" not in (run.build_dir / "steps" / "apply.py").read_text()


def test_a_module_level_print_prints_in_no_process_of_a_compiled_run(tmp_path: Path):
    # It belongs to no step (docs/controller.md): plain Python prints it once, at import.
    run = Differential(
        tmp_path,
        SETUP
        + """
print("loading")


@PipelineDecorator.component(return_values=["b"])
def make(x):
    return Box(x)


@PipelineDecorator.component(return_values=["v"])
def use(b):
    return b.scaled()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    return use(make(a))
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert plain.stdout == "loading\n" and compiled.stdout == ""
    assert compiled.result == plain.result == (10, [0])
    (run_dir,) = (tmp_path / "runs-1").iterdir()
    logs = "".join(log.read_text() for log in (run_dir / "logs").iterdir())
    assert "loading" not in logs
