"""Issue 9, family 8: each script runs the module-level code plain Python runs before a step —
`from __future__`, star imports, import fallbacks, setup calls — and carries a step that
declares `global X` once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


def test_future_star_imports_fallbacks_and_setup_calls_run_in_every_script(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from __future__ import annotations

import os
import random
from math import *
from typing import TYPE_CHECKING

try:
    import tomllib as toml_reader
except ImportError:
    import pipec_no_such_module as toml_reader

if TYPE_CHECKING:
    from collections import OrderedDict

from pipec import PipelineDecorator

random.seed(1)
os.environ["PIPEC_TEST_SETTING"] = "on"
COUNT = 0


@PipelineDecorator.component(return_values=["v", "setting"])
def root(x: OrderedDict | int):
    table = toml_reader.loads("a = 1")
    return sqrt(x) + random.random() + table["a"], os.environ["PIPEC_TEST_SETTING"]


@PipelineDecorator.component(return_values=["w"])
def bump(x):
    global COUNT
    COUNT += 1
    return x + COUNT


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    v, setting = root(n)
    print(round(v, 6), setting)
    return bump(v)
""",
    )
    run.same()
    script = (run.build_dir / "steps" / "bump.py").read_text()
    assert script.count("def bump(") == 1
    assert "pipec_no_such_module" not in (run.build_dir / "requirements.txt").read_text()


def test_module_level_if_with_and_for_statements_run_in_every_script(tmp_path: Path):
    (tmp_path / "settings.json").write_text('{"scale": 3}')
    run = Differential(
        tmp_path,
        """
import json
import logging
import os

from pipec import PipelineDecorator

DEBUG = True
if DEBUG:
    logging.getLogger("pipec-test").setLevel(logging.DEBUG)
else:
    logging.getLogger("pipec-test").setLevel(logging.ERROR)
    print("not debugging")

with open("settings.json") as handle:
    SETTINGS = json.load(handle)

for name in ("PIPEC_TEST_A", "PIPEC_TEST_B"):
    os.environ[name] = name.lower()

try:
    os.environ["PIPEC_TEST_C"] = str(SETTINGS["missing"])
except KeyError:
    os.environ["PIPEC_TEST_C"] = "fallback"


@PipelineDecorator.component(return_values=["v"])
def scaled(x):
    return x * SETTINGS["scale"], logging.getLogger("pipec-test").level


@PipelineDecorator.component(return_values=["env"])
def environment():
    return [os.environ[n] for n in ("PIPEC_TEST_A", "PIPEC_TEST_B", "PIPEC_TEST_C")]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    v = scaled(n)
    print(v)
    return v, environment()
""",
    )
    plain, _ = run.same()
    assert plain.result == ((6, 10), ["pipec_test_a", "pipec_test_b", "fallback"])
    # Module-level printing belongs to no step: the carried `if` has lost its `print`.
    script = (run.build_dir / "steps" / "scaled.py").read_text()
    assert "if DEBUG:" in script and "not debugging" not in script and "    pass\n" in script


def test_a_decorator_below_the_component_decorates_the_function_in_its_script(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import functools

from pipec import PipelineDecorator


def tenfold(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return 10 * function(*args, **kwargs)

    return wrapper


@PipelineDecorator.component(return_values=["v"])
@tenfold
@functools.lru_cache(maxsize=None)
def double(x):
    return 2 * x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    v = double(n)
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result == 40


def test_a_decorator_above_the_component_is_refused_at_its_line(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import functools

from pipec import PipelineDecorator


@functools.lru_cache(maxsize=None)
@PipelineDecorator.component(return_values=["v"])
def double(x):
    print("doubling", x)
    return 2 * x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    return double(n) + double(n)
""",
    )
    assert run.refused_codes == ["PC022"]
    assert run.refusal is not None and run.refusal.diagnostics[0].location.line == 6


MAIN_NAMES = """
from pipec import PipelineDecorator

BASE = 10


@PipelineDecorator.component(return_values=["v"])
def scaled(x):
    return x * SCALE + BASE, LABEL


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    v = scaled(n)
    print(v)
    return v


if __name__ == "__main__":
    SCALE = 3
    BASE = 100
    LABEL = "run-" + str(BASE)
    controller()
"""


def test_literal_names_of_the_main_block_reach_the_steps_as_when_the_file_runs(tmp_path: Path):
    run = Differential(tmp_path, MAIN_NAMES)
    script = subprocess.run(
        [sys.executable, str(run.file)], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    compiled = run.compiled()
    assert compiled.ok, compiled.stderr
    assert compiled.stdout == script.stdout == "(106, 'run-100')\n"
    assert compiled.result == (106, "run-100")


@pytest.mark.parametrize(
    ("main_block", "why"),
    [
        ("    SCALE = 3\n    SCALE = 4\n    controller()\n", "more than once"),
        ("    for SCALE in range(3):\n        pass\n    controller()\n", "other than `NAME"),
        # Assigned after the pipeline call: Python's NameError, warned (test_late_bindings.py).
        ("    SCALE = len(sys.argv)\n    controller()\n", "known only when the block runs"),
    ],
)
def test_other_names_of_the_main_block_are_refused_with_the_reason(
    tmp_path: Path, main_block: str, why: str
):
    source = MAIN_NAMES.replace("from pipec", "import sys\n\nfrom pipec").split("if __name__")[0]
    source = source.replace("LABEL", "'x'")
    run = Differential(tmp_path, source + 'if __name__ == "__main__":\n' + main_block)
    assert run.refusal is not None
    (refusal,) = [d for d in run.refusal.diagnostics if d.code == "PC013"]
    assert refusal.is_error and why in refusal.message and "`SCALE`" in refusal.message
