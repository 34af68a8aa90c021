"""Killed and interrupted runs, and --resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from buildkit import (
    Node,
    Param,
    node_states,
    out,
    param,
    pipec,
    record,
    runs,
    start_pipec,
    value,
    wait_for,
    write_build,
)

FIRST = """
def step(counter, n):
    with open(counter, "a") as f:
        f.write("x")
    return n * 10
"""

# Sleeps until the test lets it go (or 60 s), after writing its pid for the test to find.
SECOND = """
import os, time

def step(x, pid_file, release):
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)
    return x + 1
"""


def _build(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    counter, pid_file, release = tmp_path / "first-ran", tmp_path / "second.pid", tmp_path / "go"
    build = write_build(
        tmp_path / "build",
        [
            Node("first", FIRST, inputs={"counter": value(str(counter)), "n": param("n")}),
            Node(
                "second",
                SECOND,
                inputs={
                    "x": out("first"),
                    "pid_file": value(str(pid_file)),
                    "release": value(str(release)),
                },
            ),
            Node(
                "report",
                "def step(y):\n    print('result', y)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"y": out("second")},
            ),
        ],
        params=[Param("n", "int", 1)],
    )
    return build, counter, pid_file, release


def _state_of(build: Path, node: str) -> str | None:
    found = runs(build)
    if not found:
        return None
    try:
        return str(record(found[0])["nodes"][node]["state"])
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet
        return None


def _alive(pid: int) -> bool:
    """Running (a zombie left by a killed parent counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


def _kill_leftover(pid_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.both_modes
def test_resume_after_sigkill_keeps_the_finished_step(tmp_path: Path):
    build, counter, pid_file, release = _build(tmp_path)
    process = start_pipec(tmp_path, "run", build, "--param", "n=4")
    try:
        wait_for(
            lambda: _state_of(build, "first") == "succeeded" and pid_file.exists(),
            "the first step to finish and the second to start",
        )
        process.kill()
        process.wait()
        orphan = int(pid_file.read_text())
        killed = record(runs(build)[0])
        assert killed["state"] == "running"  # as the killed process left it
        assert pipec(tmp_path, "show", build).stdout.count("killed") == 1
        assert _alive(orphan)  # the second step, left running by the killed pipec

        # The resume stops the orphan before it runs the step again.
        pid_file.unlink()
        resuming = start_pipec(tmp_path, "run", build, "--resume")
        wait_for(lambda: not _alive(orphan), "the resume to stop the orphaned step")
        wait_for(pid_file.exists, "the second step to start again")
        release.touch()
        out_text, err_text = resuming.communicate(timeout=60)
    finally:
        _kill_leftover(pid_file)
    resumed = subprocess.CompletedProcess(resuming.args, resuming.returncode, out_text, err_text)
    assert "stopped second, which the killed run had left running" in resumed.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "result 41\n"  # n=4 was kept from the killed run
    assert counter.read_text() == "x"  # the first step did not run again
    assert len(runs(build)) == 1
    data = record(runs(build)[0])
    assert data["state"] == "succeeded" and data["sessions"] == 2
    assert set(node_states(data).values()) == {"succeeded"}
    assert "keeping 1 finished step(s)" in resumed.stderr


@pytest.mark.both_modes
def test_ctrl_c_interrupts_terminates_the_steps_and_can_be_resumed(tmp_path: Path):
    build, counter, pid_file, release = _build(tmp_path)
    process = start_pipec(tmp_path, "run", build)
    try:
        wait_for(pid_file.exists, "the second step to start")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        _kill_leftover(pid_file)
    assert process.returncode == 130
    assert "interrupted" in stderr and "--resume" in stderr
    data = record(runs(build)[0])
    assert data["state"] == "interrupted"
    assert node_states(data) == {"first": "succeeded", "second": "interrupted", "report": "pending"}
    step_pid = int(pid_file.read_text())
    wait_for(lambda: not _alive(step_pid), "the interrupted step to be gone")

    release.touch()
    resumed = pipec(tmp_path, "run", build, "--resume", runs(build)[0].name)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "result 11\n"
    assert counter.read_text() == "x"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_resume_refuses_what_it_cannot_do(tmp_path: Path):
    build, _, _, release = _build(tmp_path)
    nothing = pipec(tmp_path, "run", build, "--resume")
    assert nothing.returncode == 2 and "no failed or interrupted run" in nothing.stderr
    release.touch()
    assert pipec(tmp_path, "run", build).returncode == 0
    finished = pipec(tmp_path, "run", build, "--resume", runs(build)[0].name)
    assert finished.returncode == 2 and "succeeded: nothing to resume" in finished.stderr


def test_resume_reruns_a_step_whose_script_changed_and_its_descendants(tmp_path: Path):
    counter = tmp_path / "ran"
    build = write_build(
        tmp_path / "build",
        [
            Node("a", FIRST, inputs={"counter": value(str(counter)), "n": value(1)}),
            Node("b", "def step(x):\n    raise ValueError('fix me')", inputs={"x": out("a")}),
        ],
    )
    assert pipec(tmp_path, "run", build).returncode == 1
    script = build / "steps" / "b.py"
    script.write_text(script.read_text().replace("raise ValueError('fix me')", "return x + 1"))
    resumed = pipec(tmp_path, "run", build, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert counter.read_text() == "x"
    assert node_states(record(runs(build)[0])) == {"a": "succeeded", "b": "succeeded"}
    first_script = build / "steps" / "a.py"
    first_script.write_text(first_script.read_text() + "\n# changed\n")
    run_json = runs(build)[0] / "run.json"
    data = json.loads(run_json.read_text())
    data["state"] = "failed"  # pretend it failed later on, so that it can be resumed
    run_json.write_text(json.dumps(data))
    again = pipec(tmp_path, "run", build, "--resume")
    assert again.returncode == 0, again.stderr
    assert counter.read_text() == "xx"
    assert "keeping 0 finished step(s)" in again.stderr


def test_a_run_in_use_by_another_pipec_is_not_resumed(tmp_path: Path):
    import fcntl

    build, counter, pid_file, release = _build(tmp_path)
    release.touch()
    first = pipec(tmp_path, "run", build, "--param", "n=1")
    assert first.returncode == 0, first.stderr
    run_dir = runs(build)[0]
    data = record(run_dir)
    data["state"] = "failed"  # make it resumable
    (run_dir / "run.json").write_text(json.dumps(data))
    with open(run_dir / "run.lock", "a") as held:  # another session holds the run
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = pipec(tmp_path, "run", build, "--resume")
    assert refused.returncode == 2
    assert "is in use by another pipec process" in refused.stderr
    assert "Traceback" not in refused.stderr
