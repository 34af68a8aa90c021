"""Issue 10, item 1: `if TEST: continue` further down a run-time loop's body, its test known only
at run time, skips the rest of that element's body as Python does; `break` is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["x"])
def load(f):
    return {"name": f, "skip": f.startswith("_"), "size": len(f)}


@PipelineDecorator.component(return_values=["y"])
def train(x, scale):
    return x["name"].upper() * scale


@PipelineDecorator.component(return_values=["z"])
def score(y, label):
    return f"{label}:{y}"

"""


def test_a_continue_after_a_step_skips_the_rest_of_that_element(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(files: list = ["a", "_b", "cc", "_d"], limit: int = 2):
    loaded = []
    results = []
    scores = []
    for i, f in enumerate(files):
        x = load(f)
        loaded.append(x)
        if x["skip"]:
            continue
        scale = x["size"] + i
        label = "big"
        y = train(x, scale)
        results.append(y)
        if len(y) > limit * 4:
            continue
        scores.append(score(y, f + label))
    return loaded, results, scores, f
""",
    )
    plain, _ = run.same()
    assert plain.result[1:] == (["A", "CCCCCCCC"], ["abig:A", "ccbig:CCCCCCCC"], "_d")
    run.same(files=["_x", "_y"])  # every element skipped: the lists after the test stay empty
    plain, _ = run.same(files=["b", "cc", "ddd"], limit=1)
    assert plain.result[2] == ["bbig:B"]
    run.same(files=[])


def test_a_test_that_fails_at_run_time_fails_as_in_python(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(files: list = ["a", "b"]):
    results = []
    for f in files:
        x = load(f)
        if x["missing"]:
            continue
        results.append(train(x, 1))
    return results
""",
    )
    plain, _ = run.same()
    assert plain.error.startswith("KeyError")


def test_break_under_a_run_time_test_is_refused_with_what_to_write(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(files: list = ["a", "b"]):
    results = []
    for f in files:
        x = load(f)
        if x["skip"]:
            break
        results.append(train(x, 1))
    return results
""",
    )
    assert run.refused_codes == ["PC505"]
    (diagnostic,) = run.refusal.diagnostics
    lines = run.file.read_text().splitlines()
    assert diagnostic.location.line == lines.index("            break") + 1
    assert "files = files[:stop]" in str(diagnostic.hint)


def test_a_test_reading_what_the_body_above_it_changes_is_refused(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(files: list = ["a", "b", "c"]):
    seen = []
    results = []
    for f in files:
        seen.append(f)
        x = load(f)
        if len(seen) > 2:
            continue
        results.append(train(x, 1))
    return results
""",
    )
    # Each element's test would see the list grown by the elements before it: not a filter.
    assert run.refused_codes == ["PC501"]
    lines = run.file.read_text().splitlines()
    assert run.refusal.diagnostics[0].location.line == lines.index("        if len(seen) > 2:") + 1


def test_names_rebound_above_the_test_reach_the_rest_whatever_they_hold(tmp_path: Path):
    run = Differential(
        tmp_path,
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(files: list = [" a", "_b ", "cc"]):
    results = []
    for i, f in enumerate(files):
        f = f.strip()  # the loop's own name, rebound in glue
        pair = (load(f), i)  # a tuple holding a step's output
        if pair[0]["skip"]:
            continue
        results.append(score(train(pair[0], pair[1] + 1), f))
        continue
    return results
""",
    )
    plain, _ = run.same()
    assert plain.result == ["a:A", "cc:CCCCCC"]
    # After the loop, `f` would be what the body made of the last element, not the element:
    # like any name the body assigns, it is refused there (it was read as the element before).
    source = run.file.read_text().replace("    return results\n", "    return results, f\n")
    refused = Differential(tmp_path / "after", source)
    assert refused.refused_codes == ["PC413"]
