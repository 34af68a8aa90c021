"""pipec run on hand-made builds: output, parallelism, failures, retries, requirements."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from buildkit import Node, Param, node_states, only_run, out, param, pipec, runs, value, write_build

from pipec.literals import Literal


@pytest.mark.both_modes
def test_controller_prints_reach_stdout_in_order_and_step_output_goes_to_stderr(tmp_path: Path):
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "load",
                "def step(n):\n    print('loading', n)\n    return list(range(n))",
                inputs={"n": param("n")},
            ),
            Node("total", "def step(xs):\n    return sum(xs)", inputs={"xs": out("load")}),
            Node(
                "say_total",
                "def step(t):\n    print('total:', t)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"t": out("total")},
            ),
            Node(
                "say_bye",
                "def step():\n    print('bye', end='')",
                kind="glue",
                effects=True,
                outputs=(),
                after=("say_total",),
            ),
        ],
        params=[Param("n", "int", 3)],
        result=out("total"),
    )
    done = pipec(tmp_path, "run", build, "--param", "n=5")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "total: 10\nbye"
    assert "[load] loading 5" in done.stderr
    data = only_run(build)
    assert data["state"] == "succeeded"
    assert set(node_states(data).values()) == {"succeeded"}
    assert data["parameters"] == {"n": {"value": 5}}
    assert data["result"]["node"] == "total"
    run_dir = runs(build)[0]
    total = data["nodes"]["total"]
    artifact = run_dir / total["outputs"]["return_object"]["path"]
    assert artifact.is_file()
    assert total["outputs"]["return_object"]["size"] == artifact.stat().st_size
    assert total["exit_code"] == 0 and total["attempts"] == 1 and total["cache_hit"] is False
    assert "loading 5" in (run_dir / "logs" / "load.log").read_text()
    assert data["python"]["version"].count(".") == 2


@pytest.mark.both_modes
def test_typed_parameters_and_literals_reach_the_scripts(tmp_path: Path):
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "echo",
                "def step(n, tags, ratio, name, fixed, opt):\n"
                "    print(repr(n), repr(tags), repr(ratio), repr(name), repr(fixed), repr(opt))",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={
                    "n": param("n"),
                    "tags": param("tags"),
                    "ratio": param("ratio"),
                    "name": param("name"),
                    "fixed": Literal.of((1, b"x")),
                    "opt": param("opt"),
                },
            )
        ],
        params=[
            Param("n", "int"),
            Param("tags", "list[str]", []),
            Param("ratio", "float", 0.5),
            Param("name", None, "iris"),
            Param("opt", "Optional[int]", None),
        ],
    )
    done = pipec(
        tmp_path,
        "run",
        build,
        "--param",
        "n=12",
        "--param",
        'tags=["a","b"]',
        "--param",
        "ratio=2",
        "--param",
        "name=file:///tmp/x.pkl",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "12 ['a', 'b'] 2.0 'file:///tmp/x.pkl' (1, b'x') None\n"


def test_bad_parameters_are_refused_before_anything_runs(tmp_path: Path):
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "a",
                "def step(n, tags):\n    return n",
                inputs={"n": param("n"), "tags": param("tags")},
            )
        ],
        params=[Param("n", "int"), Param("tags", "list[str]", [])],
    )
    wrong_type = pipec(tmp_path, "run", build, "--param", "n=abc", "--param", "tags=[1, 2]")
    assert wrong_type.returncode == 2
    assert "--param n=abc" in wrong_type.stderr and "takes int" in wrong_type.stderr
    assert "--param tags=[1, 2]" in wrong_type.stderr and "list[str]" in wrong_type.stderr
    missing = pipec(tmp_path, "run", build)
    assert missing.returncode == 2
    assert "parameter 'n' is required: pass --param n=VALUE" in missing.stderr
    unknown = pipec(tmp_path, "run", build, "--param", "n=1", "--param", "m=2")
    assert unknown.returncode == 2 and "no parameter 'm'" in unknown.stderr
    assert runs(build) == []
    assert "Traceback" not in wrong_type.stderr + missing.stderr + unknown.stderr


def _interval(node: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(node["start"]), datetime.fromisoformat(node["end"])


RENDEZVOUS = """
import os, time

def step(me, other, folder):
    open(os.path.join(folder, me), "w").close()
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(folder, other)):
        if time.monotonic() > deadline:
            raise RuntimeError(other + " never started: the steps did not run in parallel")
        time.sleep(0.02)
    time.sleep(0.2)
    return me
"""


@pytest.mark.both_modes
def test_independent_steps_run_in_parallel(tmp_path: Path):
    folder = str(tmp_path)
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "left",
                RENDEZVOUS,
                inputs={"me": value("left"), "other": value("right"), "folder": value(folder)},
            ),
            Node(
                "right",
                RENDEZVOUS,
                inputs={"me": value("right"), "other": value("left"), "folder": value(folder)},
            ),
            Node(
                "join",
                "def step(a, b):\n    print(a, b)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"a": out("left"), "b": out("right")},
            ),
        ],
    )
    done = pipec(tmp_path, "run", build, "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "left right\n"
    nodes = only_run(build)["nodes"]
    (left_start, left_end), (right_start, right_end) = (
        _interval(nodes["left"]),
        _interval(nodes["right"]),
    )
    assert left_start < right_end and right_start < left_end
    join_start, _ = _interval(nodes["join"])
    assert join_start >= max(left_end, right_end)


def _failing_graph(tmp_path: Path, abort: bool) -> Path:
    pid_file = str(tmp_path / "slow.pid")
    return write_build(
        tmp_path / "build",
        [
            Node(
                "bad",
                "import os, time\n"
                "def step(pid_file):\n"
                "    while not os.path.exists(pid_file):\n"
                "        time.sleep(0.02)\n"
                "    raise ValueError('boom in bad')",
                inputs={"pid_file": value(pid_file)},
            ),
            Node("after_bad", "def step(x):\n    return x", inputs={"x": out("bad")}),
            Node("after_after", "def step(x):\n    return x", inputs={"x": out("after_bad")}),
            Node(
                "slow",
                "import os, time\n"
                "def step(pid_file, seconds):\n"
                "    with open(pid_file + '.tmp', 'w') as f:\n"
                "        f.write(str(os.getpid()))\n"
                "    os.replace(pid_file + '.tmp', pid_file)\n"
                "    time.sleep(seconds)\n"
                "    return 'slow done'",
                inputs={"pid_file": value(pid_file), "seconds": value(30 if abort else 0.3)},
            ),
            Node("after_slow", "def step(x):\n    return x + '!'", inputs={"x": out("slow")}),
        ],
        abort_on_failure=abort,
    )


@pytest.mark.both_modes
def test_a_failure_skips_its_descendants_while_independent_branches_finish(tmp_path: Path):
    build = _failing_graph(tmp_path, abort=False)
    done = pipec(tmp_path, "run", build, "--workers", "2")
    assert done.returncode == 1
    data = only_run(build)
    assert data["state"] == "failed"
    assert node_states(data) == {
        "bad": "failed",
        "after_bad": "skipped",
        "after_after": "skipped",
        "slow": "succeeded",
        "after_slow": "succeeded",
    }
    assert data["nodes"]["bad"]["exit_code"] == 1
    assert "ValueError: boom in bad" in data["nodes"]["bad"]["message"]
    # The failing step's traceback is shown once, as it happens; the end names the cause.
    assert done.stderr.count("Traceback (most recent call last)") == 1
    assert "[bad] ValueError: boom in bad" in done.stderr
    tail = done.stderr[done.stderr.index("pipec: bad failed: ") :]
    assert tail.startswith("pipec: bad failed: ValueError: boom in bad")
    assert "--resume" in done.stderr


@pytest.mark.both_modes
def test_abort_on_failure_stops_running_steps_and_starts_nothing_new(tmp_path: Path):
    build = _failing_graph(tmp_path, abort=True)
    done = pipec(tmp_path, "run", build, "--workers", "2")
    assert done.returncode == 1
    data = only_run(build)
    assert node_states(data) == {
        "bad": "failed",
        "after_bad": "skipped",
        "after_after": "skipped",
        "slow": "aborted",
        "after_slow": "skipped",
    }
    assert data["nodes"]["slow"]["exit_code"] < 0  # terminated by a signal, not 30 s later


FLAKY = """
import os

def step(counter, fail_times):
    with open(counter, "a") as f:
        f.write("x")
    with open(counter) as f:
        tries = len(f.read())
    if tries <= fail_times:
        raise RuntimeError("flaky failure %d" % tries)
    return tries
"""


@pytest.mark.both_modes
def test_retry_on_failure_retries_until_it_succeeds(tmp_path: Path):
    counter = tmp_path / "tries"
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "flaky",
                FLAKY,
                retry=2,
                inputs={"counter": value(str(counter)), "fail_times": value(2)},
            )
        ],
    )
    done = pipec(tmp_path, "run", build, "--retry-backoff", "0")
    assert done.returncode == 0, done.stderr
    node = only_run(build)["nodes"]["flaky"]
    assert node["state"] == "succeeded" and node["attempts"] == 3
    assert counter.read_text() == "xxx"
    assert done.stderr.count("retrying in") == 2


def test_retries_run_out(tmp_path: Path):
    counter = tmp_path / "tries"
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "flaky",
                FLAKY,
                retry=1,
                inputs={"counter": value(str(counter)), "fail_times": value(5)},
            )
        ],
    )
    done = pipec(tmp_path, "run", build, "--retry-backoff", "0")
    assert done.returncode == 1
    node = only_run(build)["nodes"]["flaky"]
    assert node["state"] == "failed" and node["attempts"] == 2
    assert "flaky failure 2" in node["message"]


def test_missing_requirements_are_one_clear_error_before_any_step(tmp_path: Path):
    marker = tmp_path / "ran"
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "a",
                "def step(m):\n    open(m, 'w').close()",
                inputs={"m": value(str(marker))},
                requirements=("pipec-test-not-installed==1.0", "cloudpickle"),
            ),
            Node("b", "def step():\n    return 1", requirements=("cloudpickle>=999",)),
        ],
    )
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2
    assert "a: pipec-test-not-installed==1.0 (not installed)" in done.stderr
    assert "b: cloudpickle>=999 (installed: " in done.stderr
    assert "-m pip install 'cloudpickle>=999' pipec-test-not-installed==1.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert not marker.exists() and runs(build) == []
    forced = pipec(tmp_path, "run", build, "--skip-requirements-check")
    assert forced.returncode == 0, forced.stderr
    assert marker.exists()


FOREIGN = """\
import argparse, hashlib, json, os, pickle

parser = argparse.ArgumentParser()
parser.add_argument("--output", action="append", default=[])
args = parser.parse_args()
for item in args.output:
    name, _, path = item.partition("=")
    data = pickle.dumps([1, 2, 3])
    with open(path, "wb") as handle:
        handle.write(data)
    meta = {"format": "cloudpickle", "python": "3.2", "cloudpickle": "0.1", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
    with open(path + ".meta.json", "w") as handle:
        json.dump(meta, handle)
"""


def test_an_artifact_from_another_python_fails_the_consumer_with_its_reason(tmp_path: Path):
    build = write_build(
        tmp_path / "build",
        [
            Node("old", raw_script=FOREIGN),
            Node("consumer", "def step(x):\n    return x", inputs={"x": out("old")}),
        ],
    )
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 1
    node = only_run(build)["nodes"]["consumer"]
    assert node["state"] == "failed" and node["exit_code"] == 3
    assert "another Python or cloudpickle" in node["message"]
    assert "written by Python 3.2" in node["message"]
    assert "written by Python 3.2" in done.stderr


@pytest.mark.both_modes
def test_a_step_that_exits_0_without_its_output_fails(tmp_path: Path):
    build = write_build(
        tmp_path / "build", [Node("liar", raw_script="print('no outputs written')\n")]
    )
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 1
    assert "output is not there" in only_run(build)["nodes"]["liar"]["message"]


def test_run_json_is_valid_json_with_relative_paths(tmp_path: Path):
    build = write_build(tmp_path / "build", [Node("a", "def step():\n    return {'k': 1}")])
    assert pipec(tmp_path, "run", build).returncode == 0
    run_dir = runs(build)[0]
    data = json.loads((run_dir / "run.json").read_text())
    assert data["nodes"]["a"]["log"] == "logs/a.log"
    assert data["nodes"]["a"]["outputs"]["return_object"]["path"] == "artifacts/a/return_object.pkl"
    assert not list(run_dir.rglob("*.tmp"))
