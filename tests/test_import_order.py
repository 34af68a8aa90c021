"""A module-level name read while Python imports the file, before any line has bound it.

`python pipeline.py` stops with NameError at that read, before any step runs. The compiled
scripts do not keep the file's order (defaults become manifest values, constants sit above the
functions that need them), so a build would run what Python refuses to start: pipec refuses it
at the read (PC031). Reads Python may never reach are left alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import Differential

STEP = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def one(x):
    return x + 1
"""

MAIN = """

if __name__ == "__main__":
    controller()
"""

REFUSED = {
    "controller default": """
@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=START):
    print(one(x))

START = 3
""",
    "step option": """
@PipelineDecorator.component(return_values=NAMES)
def two(x):
    return x * 2

NAMES = ["m"]

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(two(one(x)))
""",
    "helper default": """
def scaled(v, k=K):
    return v * k

K = 3

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(scaled(x)))
""",
    "module constant": """
LIMITS = [BASE, BASE + 1]
BASE = 5

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))
""",
    "import used above it": """
HOME = os.getcwd()
import os

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))
""",
    "class base": """
class Config(Base):
    pass

class Base:
    pass

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))
""",
    "main block argument bound after it": """
@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))

if __name__ == "__main__":
    controller(x=LATER)

LATER = 4
""",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_python_stops_with_name_error_and_the_build_refuses_at_the_read(
    case: str, tmp_path: Path
) -> None:
    text = STEP + REFUSED[case] + ("" if "__main__" in REFUSED[case] else MAIN)
    run = Differential(tmp_path, text)
    plain = run.as_program()
    assert not plain.ok and plain.error.startswith("NameError"), plain.stderr
    assert run.refused_codes == ["PC031"], run.refusal
    (diagnostic,) = run.diagnostics
    name = plain.error.split("'")[1]
    assert f"`{name}` is read while the file is imported" in diagnostic.message
    line = next(n for n, t in enumerate(text.lstrip().splitlines(), 1) if name in t)
    assert diagnostic.location.line == line  # the first line that mentions it is the read


BUILT = {
    "read under a false test": """
DEBUG = False
if DEBUG:
    LEVEL = LATER_LEVEL
LATER_LEVEL = 1

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))
""",
    "right side of or": """
MODE = "fast" or FALLBACK
FALLBACK = "slow"

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(MODE, one(x))
""",
    "function body": """
def helper(v):
    return v + LATE

LATE = 7

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(helper(x)))
""",
    "try body": """
try:
    VALUE = MISSING
except NameError:
    VALUE = 0
MISSING = 1

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(VALUE, one(x))
""",
    "empty comprehension": """
EMPTY = [LATER for _ in range(0)]
LATER = 1

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(EMPTY, one(x))
""",
    "lambda body": """
LATER_ADD = lambda v: v + LATER
LATER = 1

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x))
""",
    "builtin shadowed later": """
COUNT = len([1, 2])
len = len

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(COUNT, one(x))
""",
}


@pytest.mark.parametrize("case", sorted(BUILT))
def test_a_read_python_never_reaches_first_builds_and_runs_as_python(
    case: str, tmp_path: Path
) -> None:
    run = Differential(tmp_path, STEP + BUILT[case] + MAIN)
    assert run.refusal is None, run.refusal
    assert all(d.code != "PC031" for d in run.diagnostics)
    plain, compiled = run.as_program(), run.compiled()
    assert plain.ok and compiled.ok
    assert compiled.stdout == plain.stdout


def test_a_with_block_reading_the_name_it_binds_builds(tmp_path: Path) -> None:
    (tmp_path / "scale.txt").write_text("3")
    run = Differential(
        tmp_path,
        STEP
        + """
with open("scale.txt") as handle:
    SCALE = int(handle.read())

@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x=2):
    print(one(x * SCALE))
"""
        + MAIN,
    )
    assert run.refusal is None, run.refusal
    plain, compiled = run.as_program(), run.compiled()
    assert plain.ok and compiled.ok and compiled.stdout == plain.stdout == "7\n"
