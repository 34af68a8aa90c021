"""Controller glue, differentially: a build run node by node prints and returns what plain Python does."""

from __future__ import annotations

import pytest
from conftest import pipec_run_exists, run_eagerly, run_manifest, run_pipec

HEADER = """
import types

from pipec import PipelineDecorator

OFFSET = 10
LABELS = ("small", "large")


def label(value):
    return LABELS[0] if value < OFFSET else LABELS[1]


@PipelineDecorator.component(return_values=["stats"])
def describe(values):
    return {"low": min(values), "high": max(values), "count": len(values)}


@PipelineDecorator.component(return_values=["scaled"])
def scale(values, factor: float = 2.0):
    return [v * factor for v in values]


@PipelineDecorator.component(return_values=["quotient", "remainder"])
def divide(a, b):
    return divmod(a, b)


@PipelineDecorator.component(return_values=["total"])
def add(a, b: int = OFFSET):
    return a + b


@PipelineDecorator.component
def negate(x):
    return -x


@PipelineDecorator.component(return_values=["record"])
def make_record(name: str, size: int):
    print("making a record")  # a step's own printing is not the controller's
    return types.SimpleNamespace(name=name, size=size)
"""

CONTROLLERS = {
    "containers": """
@PipelineDecorator.pipeline(name="containers", project="tests", version="1")
def controller(values: list = [4, 1, 3], factor: float = 0.5):
    print("start")
    stats = describe(values)
    spread = stats["high"] - stats["low"]
    assert spread > 0, "flat data"
    print(f"spread={spread} count={stats['count']:03d}")
    scaled = scale(values, factor=factor)
    summary = {"spread": spread, "first": scaled[0], "all": [spread, stats["count"]] + scaled}
    print("summary:", summary)
    return summary
""",
    "attributes": """
@PipelineDecorator.pipeline(name="attributes", project="tests", version="1")
def controller(name: str = "ada", size: int = 7):
    record = make_record(name, size=size)
    shout = record.name.upper() + "!" * record.size
    print(shout, len(shout))
    twice = make_record(shout, record.size * 2)
    print(f"{twice.name} has size {twice.size}")
    return (twice.name, twice.size)
""",
    "binding": """
@PipelineDecorator.pipeline(name="binding", project="tests", version="1")
def controller(n: int = 47):
    print(label(n))
    first = divide(n, 5)
    q = first[0]
    second = divide(b=7, a=n)
    r = second[1]
    total = add(negate(add(q, r)))
    print(add(total, b=2))
    print(label(total), OFFSET)
    whole, rest = divide(total, 3)
    print("parts", whole, rest)
    return [q, r, total, whole, rest]
""",
    "indexed_call": """
@PipelineDecorator.pipeline(name="indexed_call", project="tests", version="1")
def controller(n: int = 47):
    q = divide(n, 5)[0]
    r = divide(n, 7)[1]
    print(f"q={q} r={r}")
    return q + r
""",
    "order": """
@PipelineDecorator.pipeline(name="order", project="tests", version="1")
def controller(n: int = 5):
    print("one")
    a = add(n)
    print("two")
    b = add(n, b=1)
    print("three", b)
    print("four", a)
    c = add(a, b)
    count = c * 2
    count += 1
    print("five", count)
    return {"n": n, "count": count, "label": label(count)}
""",
    "passthrough": """
@PipelineDecorator.pipeline(name="passthrough", project="tests", version="1")
def controller(n: int = 2, word: str = "x"):
    print(f"{word * n}")
    return n
""",
}

# Non-default parameters for a second run of some controllers: `--value` overrides the manifest default.
OVERRIDES = {
    "binding": {"n": 3},
    "containers": {"values": [10, 20, 15, 5]},
    "passthrough": {"word": "ab"},
}


@pytest.fixture
def built(build_inline):
    def make(case: str):
        return build_inline(HEADER + CONTROLLERS[case], name=case)

    return make


@pytest.mark.parametrize("case", sorted(CONTROLLERS))
def test_build_prints_and_returns_what_plain_python_does(case, built):
    build = built(case)
    expected = run_eagerly(build.source, "controller")
    assert expected.stdout  # every case prints something: order matters
    assert run_manifest(build.folder) == expected
    if case in OVERRIDES:
        params = OVERRIDES[case]
        assert run_manifest(build.folder, params) == run_eagerly(
            build.source, "controller", **params
        )


def test_step_outputs_are_not_controller_prints(built):
    build = built("attributes")
    printing = [n["name"] for n in build.manifest["nodes"] if n["effects"]]
    assert all(n["kind"] == "glue" for n in build.manifest["nodes"] if n["name"] in printing)
    assert "making a record" not in run_manifest(build.folder).stdout


def test_a_step_called_twice_becomes_two_nodes(built):
    build = built("order")
    steps = [n["name"] for n in build.manifest["nodes"] if n["kind"] == "step"]
    assert steps == ["add", "add_1", "add_2"]
    scripts = {n["script"] for n in build.manifest["nodes"] if n["kind"] == "step"}
    assert scripts == {"steps/add.py"}


@pytest.mark.skipif(not pipec_run_exists(), reason="`pipec run` is not there yet")
@pytest.mark.parametrize("case", ["binding", "containers"])
def test_pipec_run_prints_what_plain_python_does(case, built, tmp_path):
    build = built(case)
    expected = run_eagerly(build.source, "controller")
    done = run_pipec(
        "run", build.folder, "--cache-dir", tmp_path / "cache", "--runs-dir", tmp_path / "runs"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.stdout
