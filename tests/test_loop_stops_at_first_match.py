"""Issue 10: `if TEST: break` first in a loop over a run-time value runs the body for the elements
before the first one TEST holds for, and leaves the loop's variable at that element, as Python
does; a test the body could change, or one that calls a step, stays refused (PC505)."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["names"])
def list_files(count: int):
    return [f"f{i}" if i != 2 else "STOP" for i in range(count)]


@PipelineDecorator.component(return_values=["size"])
def measure(name: str, scale: int):
    return len(name) * scale


@PipelineDecorator.component(return_values=["label"])
def label(size: int, name: str):
    return f"{name}={size}"

"""


def test_the_body_runs_for_the_elements_before_the_first_match(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(count: int = 5, stop_word: str = "STOP", scale: int = 3):
    sizes = []
    labels = []
    names = list_files(count)
    for name in names:
        if name == stop_word or name.startswith("x"):
            break
        size = measure(name, scale)
        sizes.append(size)
        if size > 100:
            continue
        labels.append(label(size, name))
    print("stopped at", name)
    return sizes, labels, name
""",
    )
    plain, _ = run.same()
    assert plain.result == ([6, 6], ["f0=6", "f1=6"], "STOP")
    plain, _ = run.same(count=2)  # no element stops the loop: the name is the last one
    assert plain.result == ([6, 6], ["f0=6", "f1=6"], "f1")
    plain, _ = run.same(stop_word="f0")  # the first element stops it: the body never runs
    assert plain.result == ([], [], "f0")
    run.same(count=0)  # an empty list: `name` is never bound, and reading it fails as in Python


def test_a_search_loop_with_nothing_but_the_test(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(count: int = 5, found: str = "none"):
    for i, name in enumerate(list_files(count)):
        if name == "STOP":
            break
    return i, name, found
""",
    )
    plain, _ = run.same()
    assert plain.result == (2, "STOP", "none")
    run.same(count=2)


def test_a_test_the_body_changes_stays_refused(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(count: int = 5):
    sizes = []
    for name in list_files(count):
        if len(sizes) > 1:
            break
        sizes.append(measure(name, 1))
    return sizes
""",
    )
    assert run.refused_codes == ["PC505"]
