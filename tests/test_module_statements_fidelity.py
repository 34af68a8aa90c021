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


# ---- printing in module-level statements ----------------------------------------------------


def _without_module_prints(stdout: str, *lines: str) -> str:
    """Plain Python's output less the module-level prints, which belong to no step."""
    kept = stdout.splitlines(keepends=True)
    for line in lines:
        kept.remove(line + "\n")
    return "".join(kept)


def test_a_setup_call_sharing_a_line_with_a_print_is_carried_without_it(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import os
import random

from pipec import PipelineDecorator

os.environ["PIPEC_TEST_MODE"] = "fast"; print("mode set")
random.seed(3); print("seeded")


@PipelineDecorator.component(return_values=["v"])
def settings():
    return os.environ.get("PIPEC_TEST_MODE"), random.random()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    v = settings()
    print(v)
    return v
""",
    )
    plain, compiled = run.plain(), run.compiled()
    assert compiled.result == plain.result and plain.result[0] == "fast"
    assert compiled.stdout == _without_module_prints(plain.stdout, "mode set", "seeded")
    assert "print(" not in (run.build_dir / "steps" / "settings.py").read_text().split("def ")[0]


@pytest.mark.parametrize(
    "statement",
    [
        'if DEBUG:\n    LIMIT = len(str(print("debugging")))',
        "for n in NAMES:\n    TABLE[n] = len(print(n) or n)",
        "LIMIT = max(len(NAMES), print(NAMES) or 0)",
        "for n in map(print, NAMES):\n    TABLE[n] = 1",
        'with open(__file__) as handle:\n    LIMIT = len(handle.read(1) + str(print("read")))',
    ],
)
def test_a_print_inside_an_expression_of_a_carried_statement_is_refused_at_it(
    tmp_path: Path, statement: str
):
    source = f"""
from pipec import PipelineDecorator

DEBUG = True
NAMES = ["a", "b"]
TABLE = {{}}
LIMIT = 0
{statement}


@PipelineDecorator.component(return_values=["v"])
def size(key):
    return TABLE.get(key), LIMIT


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(key: str = "a"):
    return size(key)
"""
    run = Differential(tmp_path, source)
    assert run.refused_codes == ["PC025"]
    (diagnostic,) = run.refusal.diagnostics
    assert diagnostic.location.line == 7 + statement.split("print")[0].count("\n")


def test_prints_a_carried_statement_only_names_or_runs_later_are_not_refused(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import logging

from pipec import PipelineDecorator

log = logging.getLogger("pipec-test")
SHOW = {"print": print}
if True:
    log.print_level = 1
    print("configured")


def report(x, show=print):
    show("in a step", x)
    return x


@PipelineDecorator.component(return_values=["v"])
def step(x):
    return report(x), log.print_level, SHOW["print"] is print


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 1):
    return step(x)
""",
    )
    assert run.refusal is None, run.refusal
    plain, compiled = run.plain(), run.compiled()
    assert compiled.result == plain.result == (1, 1, True)
    assert compiled.stdout == _without_module_prints(plain.stdout, "configured")


# ---- more module-level code: each as plain Python runs it ------------------------------------


def test_setup_through_aliases_fallback_imports_and_values_drawn_after_it(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import logging
import os
import random as rnd

from pipec import PipelineDecorator

os.environ["PIPEC_TEST_PROBE"] = "on"
logging.basicConfig(level=logging.INFO, format="%(message)s")
rnd.seed(5)
try:
    import ujson as json
except ImportError:
    import json
rnd.seed(7)
NOISE = rnd.random()  # no step names it, yet it moves the generator on before every step
BASE = os.environ["PIPEC_TEST_PROBE"] + "!"


@PipelineDecorator.component(return_values=["v"])
def one(x):
    logging.getLogger("probe").info("step logs %s", x)
    return x, os.environ["PIPEC_TEST_PROBE"], rnd.random(), json.dumps([1]), logging.getLogger().level


@PipelineDecorator.component(return_values=["v"])
def two(x):
    return BASE, x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = one(a)
    w = two(a)
    print(v, w)
    return v, w
""",
    )
    plain, _ = run.same()
    assert plain.result[0][1:] == ("on", rnd_second_draw(7), "[1]", 20)
    assert plain.result[1] == ("on!", 1)


def rnd_second_draw(seed: int) -> float:
    import random

    generator = random.Random(seed)
    generator.random()
    return generator.random()


def test_definitions_whose_decorator_registers_them_run_in_every_script(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator

REGISTRY = {}


def register(function):
    REGISTRY[function.__name__] = function
    return function


@register
def shout(text):
    return text.upper()


@register
class Whisper:
    def __call__(self, text):
        return text.lower()


LATE = register(len)  # a call of a function that changes module state: setup too


@PipelineDecorator.component(return_values=["v"])
def apply(name, text):
    found = REGISTRY[name]
    return sorted(REGISTRY), found(text) if name == "shout" else found()(text)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(name: str = "shout"):
    v = apply(name, "Hi")
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result == (["Whisper", "len", "shout"], "HI")
    run.same(name="Whisper")


def test_a_statement_no_step_names_that_moves_a_carried_value_on_still_runs(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import itertools
import random

from pipec import PipelineDecorator

COUNTER = itertools.count()
FIRST = next(COUNTER)
RNG = random.Random(0)
SAMPLE = RNG.random()
CONFIG = {"lr": 0.1}
LR = CONFIG.get("lr")
ITEMS = [3, 1, 2]
random.Random(1).shuffle(ITEMS)
ORDERED = sorted(ITEMS)


@PipelineDecorator.component(return_values=["v"])
def draw():
    return next(COUNTER), RNG.random(), ITEMS, CONFIG


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    v = draw()
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result[0] == 1
    script = (run.build_dir / "steps" / "draw.py").read_text()
    # Statements that only read a carried value stay out, as before.
    assert "LR = " not in script and "ORDERED = " not in script


def test_setup_lines_the_main_block_runs_before_the_pipeline_call_reach_the_steps(
    tmp_path: Path,
):
    import subprocess
    import sys

    run = Differential(
        tmp_path,
        """
import os

from pipec import PipelineDecorator

MODE = "dev"


@PipelineDecorator.component(return_values=["v"])
def step(x):
    return MODE, x, os.environ.get("PIPEC_TEST_MAIN_SET")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 2):
    v = step(x)
    print(v)
    return v


if __name__ == "__main__":
    MODE = "prod"
    os.environ["PIPEC_TEST_MAIN_SET"] = MODE + "!"
    controller()
    os.environ["PIPEC_TEST_MAIN_SET"] = "after the run: no step sees it"
""",
    )
    as_script = subprocess.run(
        [sys.executable, "pipeline.py"], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    compiled = run.compiled()
    assert compiled.stdout == as_script.stdout == "('prod', 2, 'prod!')\n"
    assert "after the run" not in (run.build_dir / "steps" / "step.py").read_text()


MAIN_BLOCK_SHAPES = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def step(x):
    import os

    return x, os.environ.get("PIPEC_TEST_MAIN_IMPORT")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 2):
    v = step(x)
    print(v)
    return v


def launch(start):
    start()


def main():
    controller()


if __name__ == "__main__":
    import os
    import argparse

    os.environ["PIPEC_TEST_MAIN_IMPORT"] = "set"
    parser = argparse.ArgumentParser()
    parser.add_argument("--x", type=int, default=2)
    args = parser.parse_args([])
    launch(main)
    os.environ["PIPEC_TEST_MAIN_IMPORT"] = "after the run"
"""


def test_the_main_block_carries_its_setup_and_imports_but_not_its_own_work(tmp_path: Path):
    import subprocess
    import sys

    # `import os` inside the block is carried with the line that reads it; the block's own
    # objects (`parser`, `args`) and what hands the pipeline to another function
    # (`launch(main)`) stay out: no script parses arguments or starts the pipeline again.
    run = Differential(tmp_path, MAIN_BLOCK_SHAPES)
    as_script = subprocess.run(
        [sys.executable, "pipeline.py"], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    compiled = run.compiled()
    assert compiled.stdout == as_script.stdout == "(2, 'set')\n"
    for script in (run.build_dir / "steps").glob("*.py"):
        text = script.read_text()
        assert '"--x"' not in text and "parse_args([])" not in text, script.name
        assert "launch(main)" not in text, script.name
    step = (run.build_dir / "steps" / "step.py").read_text()
    assert 'os.environ["PIPEC_TEST_MAIN_IMPORT"] = "set"' in step
