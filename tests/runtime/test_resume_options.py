"""A resumed run keeps the options and parameters of the run it continues."""

from __future__ import annotations

from pathlib import Path

from buildkit import Node, Param, out, param, pipec, record, runs, value, write_build

GATED = """
import os

def step(x, gate):
    if not os.path.exists(gate):
        raise RuntimeError("the gate is closed")
    return x + 1
"""


def _build(tmp_path: Path) -> tuple[Path, Path]:
    gate = tmp_path / "gate"
    build = write_build(
        tmp_path / "build",
        [
            Node("first", "def step(n):\n    return n * 10", inputs={"n": param("n")}, cache=True),
            Node("second", GATED, inputs={"x": out("first"), "gate": value(str(gate))}, cache=True),
            Node(
                "report",
                "def step(y):\n    print('result', y)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"y": out("second")},
            ),
        ],
        params=[Param("n", "int", 1), Param("label", "str", "plain")],
    )
    return build, gate


def test_resume_keeps_no_cache_workers_and_parameters_and_takes_the_same_params(tmp_path: Path):
    build, gate = _build(tmp_path)
    first = pipec(tmp_path, "run", build, "--no-cache", "--workers", "1", "--param", "n=3")
    assert first.returncode == 1, first.stderr

    changed = pipec(tmp_path, "run", "--resume", build, "--param", "n=4", "--param", "label=plain")
    assert changed.returncode == 2
    assert "n (the run has 3, --param gives 4)" in changed.stderr
    assert "label" not in changed.stderr.split("differ:")[1]  # equal values are not named

    gate.touch()
    # The options come before the build folder: --resume does not swallow it.
    resumed = pipec(tmp_path, "run", "--resume", build, "--param", "n=3")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "result 31\n"
    assert "keeping 1 finished step(s)" in resumed.stderr
    (run_dir,) = runs(build)
    options = record(run_dir)["options"]
    assert isinstance(options, dict)
    assert options["no_cache"] is True and options["workers"] == 1
    # --no-cache held in the resumed session too: nothing was stored.
    entries = tmp_path / "cache" / "entries"
    assert not entries.exists() or not any(entries.iterdir())


def test_resume_takes_the_build_and_the_run_in_either_order(tmp_path: Path):
    build, gate = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 1
    gate.touch()
    (run_dir,) = runs(build)
    resumed = pipec(tmp_path, "run", "--resume", build, run_dir.name)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run {run_dir.name}" in resumed.stderr


def test_run_without_a_build_folder_says_what_to_give(tmp_path: Path):
    missing = pipec(tmp_path, "run")
    assert missing.returncode == 2
    assert "pipec run BUILD_DIR" in missing.stderr and "Traceback" not in missing.stderr
