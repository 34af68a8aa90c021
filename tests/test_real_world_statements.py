"""Issue 10, items 3, 5 and 10: controller statements real pipelines use build and run as plain
Python runs them, or are refused at their line with the true cause."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential
from golden_build import build_file

from pipec.compiler.requirements import StaticEnvironment

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


# ---- item 5: run-time loops with `enumerate`, tuple targets, `continue`, the last element -----

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["pairs"])
def pairs(n):
    return [(i, (i * 10, str(i))) for i in range(n)]

"""


def test_enumerate_and_nested_tuple_targets_in_a_runtime_loop(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [[1, 2], [3]], n: int = 3):
    firsts = []
    for i, x in enumerate(xs):
        firsts.append(one(i * 10))
    seconds = [one(a + len(b)) for _, (a, b) in pairs(n)]
    heads = []
    for head, *tail in xs:
        heads.append(one(head + len(tail)))
    return firsts, seconds, heads
""",
    )
    plain, _ = run.same()
    assert plain.result == ([1, 11], [2, 12, 22], [3, 4])
    plain, _ = run.same(
        xs=[5, 6]
    )  # an int does not unpack: TypeError in that element, as in Python
    assert plain.error.startswith("TypeError: cannot unpack non-iterable int")


def test_leading_continue_skips_elements_of_a_runtime_loop(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
SKIP = {3}


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 0, 2, 3, None], limit: int = 10):
    results = []
    for i, x in enumerate(xs):
        if x is None or x in SKIP:
            continue
        if not x:
            continue
        results.append(one(x * limit + i))
        continue
    return results
""",
    )
    run.same()
    run.same(xs=[], limit=1)
    plain, _ = run.same(xs=["a", 1])
    assert plain.error.startswith("TypeError")


def test_the_loop_variable_after_a_runtime_loop_is_the_last_element(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [4, 5], ys: list = [[1, 2]]):
    x = "before"
    results = []
    for x in xs:
        results.append(one(x))
    print("last x:", x)
    sums = []
    for a, b in ys:
        sums.append(one(a + b))
    print("last pair:", a, b)
    return results, sums, x
""",
    )
    run.same()
    plain, _ = run.same(xs=[], ys=[])  # `x` keeps "before"; `a` was never bound
    assert plain.stdout == "last x: before\n"
    assert "UnboundLocalError" in plain.error or "NameError" in plain.error


# ---- item 5: `match` on constants, parameters and outputs -------------------------------------

MATCH = """
from pipec import PipelineDecorator

MODE = "fast"
LIMITS = {"low": 1, "high": 5}


class Colour:
    RED = "red"


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["shape"])
def shape(kind):
    return {"square": {"kind": "square", "side": 3}, "pair": [4, 5, 6], "none": None}.get(kind, kind)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(kind: str = "square", colour: str = "red", n: int = 2):
    match MODE:
        case "slow":
            speed = one(0)
        case "fast" | "faster":
            speed = one(10)
    match LIMITS:
        case {"high": int(top), **others} if top > 3:
            print("top", top, others)
    match shape(kind):
        case {"kind": "square", "side": side}:
            result = one(side)
        case [first, *rest] if len(rest) > 1:
            result = one(first + len(rest))
        case None:
            result = "nothing"
        case str() as text:
            print("a string", text)
            result = one(len(text))
        case other:
            result = other
    match colour:
        case Colour.RED:
            tone = one(n)
        case _:
            tone = None
    print("matched", speed, result, tone)
    return speed, result, tone
"""


def test_match_on_constants_parameters_and_outputs_runs_as_python(tmp_path: Path):
    run = Differential(tmp_path, MATCH)
    run.same()
    run.same(kind="pair", colour="blue")
    run.same(kind="none")
    run.same(kind="circle", n=7)


def test_names_a_case_pattern_binds_are_defined_in_steps_too(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def describe(x):
    match x:
        case [first, *rest]:
            return first + len(rest)
        case {"k": value, **others}:
            return value + len(others)
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: object = [5, 6, 7]):
    return describe(x)
""",
    )
    run.same()
    run.same(x={"k": 1, "j": 2})


# ---- item 5 and 10: star imports in glue --------------------------------------------------------

STAR = """
from math import *

from helpers import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: float = 16.0):
    root = sqrt(x) + SCALE
    label = describe(root)
    print(label, pi > 3)
    return one(root), label
"""

HELPERS = """
__all__ = ["SCALE", "describe"]

SCALE = 2


def describe(value):
    return f"value {value}"


def hidden():
    return 0
"""


def _without_math(source: str) -> str:
    return source.replace("from math import *\n", "").replace("sqrt(x)", "x").replace("pi > 3", "1")


def test_star_imports_reach_glue_as_their_import_lines(tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "helpers.py").write_text(HELPERS, encoding="utf-8")
    run = Differential(tmp_path, STAR)
    run.same()
    glue = (run.build_dir / "steps" / "glue_1.py").read_text()
    assert "from math import *" in glue and "from helpers import *" in glue


def test_a_name_the_local_star_import_does_not_export_is_refused_with_its_cause(tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "helpers.py").write_text(HELPERS, encoding="utf-8")
    source = _without_math(STAR)
    # A project module exports what it says it does (`__all__`), not every public name.
    run = Differential(tmp_path, source.replace("describe(root)", "describes(root) + hidden()"))
    assert run.refused_codes == ["PC610", "PC615"]
    messages = [d.message for d in run.refusal.diagnostics]
    assert "did you mean `describe`?" in messages[0]
    # `hidden` is in helpers, left out of its `__all__`: that is the cause named.
    assert "`helpers` defines it, but its `__all__` leaves it out" in messages[1]


def test_a_name_only_a_missing_module_could_define_says_so(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(_without_math(STAR).replace("helpers import", "missing_helpers import"))
    built = build_file(file, "pipeline.py", StaticEnvironment({}))
    warnings = [
        (d.code, d.location.line, d.message) for d in built.diagnostics if d.code == "PC609"
    ]
    assert [w[:2] for w in warnings] == [("PC609", 15), ("PC609", 16)]
    assert "only `from missing_helpers import *` could define it" in warnings[0][2]
    assert (
        "`missing_helpers` is neither a module of this project nor installed here" in warnings[0][2]
    )


def test_a_skip_test_that_reads_what_the_loop_changes_is_refused(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 1, 2]):
    seen = set()
    results = []
    for x in xs:
        if x in seen:
            continue
        seen.add(x)
        results.append(one(x))
    return results
""",
    )
    assert run.refused_codes == ["PC501"]
