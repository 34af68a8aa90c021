"""Damaged run records, failing writes of pipec's own, damaged cache entries, leftovers and races:
each ends in a clear message (never exit 70), and a later run or resume completes."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildkit import (
    DRIVER,
    Node,
    alive,
    isolated_env,
    node_states,
    out,
    pipec,
    record,
    runs,
    start_pipec,
    value,
    wait_for,
    write_build,
)
from other_users import as_user_fixture, shared_dir_fixture  # noqa: F401 - fixtures

from pipec.executor import stop_leftover_steps
from pipec.runs import create_run_dir

FLAGGED = """
import os

def step(x, flag):
    if os.path.exists(flag):
        raise SystemExit("flagged")
    return x + 1
"""


def _two_steps(tmp_path: Path, cache: bool = False) -> tuple[Path, Path]:
    flag = tmp_path / "fail"
    build = write_build(
        tmp_path / "build",
        [
            Node("a", "def step():\n    return 1", cache=cache),
            Node("b", FLAGGED, cache=cache, inputs={"x": out("a"), "flag": value(str(flag))}),
        ],
    )
    return build, flag


# -- damaged run records -------------------------------------------------------------------

DAMAGE = {
    "a list": lambda data: [],
    "null": lambda data: None,
    "python is a number": lambda data: {**data, "python": 5},
    "nodes is a list": lambda data: {**data, "nodes": []},
    "created is null": lambda data: {**data, "created": None},
    "a parameter that is not a literal": lambda data: {
        **data,
        "parameters": {"n": {"literal": "__import__('os').getcwd()"}},
    },
}


def test_a_damaged_record_is_refused_when_asked_for_and_skipped_when_listing(tmp_path: Path):
    build, flag = _two_steps(tmp_path)
    flag.touch()
    assert pipec(tmp_path, "run", build).returncode == 1
    (good,) = runs(build)
    data = record(good)
    for index, (what, damage) in enumerate(DAMAGE.items()):
        copy = good.parent / f"99999999-000000-00{index}00"  # sorts after the good run
        shutil.copytree(good, copy)
        (copy / "run.json").write_text(json.dumps(damage(data)))
        for command in (["show", copy], ["inspect", copy, "a"], ["run", build, "--resume", copy]):
            done = pipec(tmp_path, *command)
            assert done.returncode == 2, (what, command, done.stderr)
            assert "damaged" in done.stderr or "cannot be read" in done.stderr, (what, done.stderr)
            assert "Traceback" not in done.stderr, (what, command)

    listing = pipec(tmp_path, "show", build)
    assert listing.returncode == 0, listing.stderr
    assert listing.stderr.count("pipec: skipping run 99999999-") == len(DAMAGE)
    assert good.name in listing.stdout

    flag.unlink()
    resumed = pipec(tmp_path, "run", build, "--resume")  # the good run, past the damaged ones
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run {good.name}" in resumed.stderr


# -- pipec's own writes failing ------------------------------------------------------------


@contextlib.contextmanager
def _full_disk(where: Path) -> Iterator[bool]:
    """A tiny tmpfs at ``where``, filled up; yields False when no filesystem can be mounted."""
    where.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        if mounted:
            with contextlib.suppress(OSError), open(where / "filler", "wb") as filler:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(where)], check=False)


# Stands in for a full disk where no tmpfs can be mounted: every atomic write fails as the
# kernel would fail it.
ENOSPC_DRIVER = (
    "import errno, os\n"
    "import pipec.atomic\n"
    "def full(path, data):\n"
    "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))\n"
    "pipec.atomic.write_bytes_atomic = full\n" + DRIVER
)


def test_a_full_disk_before_the_run_starts_is_a_clear_error_that_leaves_nothing(tmp_path: Path):
    build, _ = _two_steps(tmp_path)
    disk = tmp_path / "disk"
    with _full_disk(disk) as mounted:
        runs_dir = disk / "runs"
        argv = [sys.executable, "-c", DRIVER if mounted else ENOSPC_DRIVER]
        argv += ["run", str(build), "--runs-dir", str(runs_dir)]
        done = subprocess.run(
            argv, capture_output=True, text=True, env=isolated_env(tmp_path), check=False
        )
        assert done.returncode == 2, done.stderr
        assert os.strerror(errno.ENOSPC) in done.stderr and "free some space" in done.stderr
        assert "Traceback" not in done.stderr
        assert not any(runs_dir.iterdir()) if runs_dir.exists() else True  # no orphan folder
    again = pipec(tmp_path, "run", build, "--runs-dir", tmp_path / "elsewhere")
    assert again.returncode == 0, again.stderr


def test_a_read_only_build_folder_asks_for_runs_dir(shared_dir: Path, as_user):
    build, _ = _two_steps(shared_dir)  # made by root; the run is by another user
    mine = shared_dir / "mine"
    mine.mkdir()
    os.chown(mine, 65534, -1)
    denied = as_user(65534, "run", build)
    assert denied.returncode == 2, denied.stderr
    assert "cannot create a run folder" in denied.stderr and "--runs-dir" in denied.stderr
    assert "Traceback" not in denied.stderr and not (build / "runs").exists()
    elsewhere = as_user(65534, "run", build, "--runs-dir", mine / "runs")
    assert elsewhere.returncode == 0, elsewhere.stderr


# -- cache damage ---------------------------------------------------------------------------


def _entry_of(tmp_path: Path, node: str) -> Path:
    found = [
        e.parent
        for e in (tmp_path / "cache" / "entries").rglob("entry.json")
        if json.loads(e.read_text())["node"] == node
    ]
    assert len(found) == 1, found
    return found[0]


def _spoil_meta_python(entry: Path) -> None:
    meta = entry / "return_object.pkl.meta.json"
    data = json.loads(meta.read_text())
    meta.unlink()  # not through the run's hard link
    meta.write_text(json.dumps({**data, "python": "2.7"}))


def _garbage_meta(entry: Path) -> None:
    meta = entry / "return_object.pkl.meta.json"
    meta.unlink()
    meta.write_text("{not json")


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_spoil_meta_python, "return_object.pkl.meta.json does not match"),
        (_garbage_meta, "return_object.pkl.meta.json does not match"),
        (lambda entry: (entry / "entry.json").unlink(), "entry.json cannot be read"),
    ],
)
def test_a_damaged_cache_entry_is_dropped_and_recomputed_once(tmp_path: Path, damage, said):
    build, _ = _two_steps(tmp_path, cache=True)
    assert pipec(tmp_path, "run", build).returncode == 0
    damage(_entry_of(tmp_path, "a"))
    again = pipec(tmp_path, "run", build)
    assert again.returncode == 0, again.stderr
    assert said in again.stderr and again.stderr.count("is corrupted") == 1
    # a is recomputed; its bytes are the same, so b is served from the cache
    assert node_states(record(runs(build)[-1])) == {"a": "succeeded", "b": "cached"}
    third = pipec(tmp_path, "run", build)
    assert third.returncode == 0 and "is corrupted" not in third.stderr
    assert node_states(record(runs(build)[-1])) == {"a": "cached", "b": "cached"}


def test_a_hash_mismatch_names_both_hashes_in_full(tmp_path: Path):
    build, _ = _two_steps(tmp_path, cache=True)
    assert pipec(tmp_path, "run", build).returncode == 0
    stored = _entry_of(tmp_path, "a") / "return_object.pkl"
    data = stored.read_bytes()
    stored.unlink()
    stored.write_bytes(data[:-2] + b"x.")
    again = pipec(tmp_path, "run", build)
    line = next(text for text in again.stderr.splitlines() if "is corrupted" in text)
    hashes = [word.strip(",;") for word in line.split() if len(word.strip(",;")) == 64]
    assert len(hashes) == 2 and hashes[0] != hashes[1], line


# -- leftovers and races ----------------------------------------------------------------------


def test_leftovers_of_killed_writes_are_swept(tmp_path: Path):
    build, flag = _two_steps(tmp_path, cache=True)
    flag.touch()
    assert pipec(tmp_path, "run", build).returncode == 1
    run_dir = runs(build)[0]
    leftovers = [
        run_dir / "artifacts" / "b" / ".tmp-4242-return_object.pkl",
        run_dir / ".run.json.0123456789ab.tmp",
        run_dir / "artifacts" / "a" / ".return_object.pkl.77.link.tmp",
    ]
    stale = tmp_path / "cache" / "tmp" / ("0" * 64 + ".deadbeef")
    discarded = tmp_path / "cache" / "tmp" / "discarded.cafe"
    fresh = tmp_path / "cache" / "tmp" / ("1" * 64 + ".inprogress")
    for path in [*leftovers, stale / "x.pkl", discarded / "x.pkl", fresh / "x.pkl"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    flag.unlink()
    resumed = pipec(tmp_path, "run", build, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert not any(path.exists() for path in [*leftovers, stale, discarded])
    assert fresh.exists()  # maybe another run's entry being assembled right now


def test_a_run_id_drawn_twice_is_drawn_again(tmp_path: Path):
    (tmp_path / "20250101-000000-00000").mkdir()
    ids = iter(["20250101-000000-00000", "20250101-000000-00001"])
    run_id, path = create_run_dir(tmp_path, lambda: next(ids))
    assert run_id == "20250101-000000-00001" and path.is_dir()


def test_a_killed_run_whose_pid_was_reused_can_be_resumed(tmp_path: Path):
    build, flag = _two_steps(tmp_path)
    flag.touch()
    assert pipec(tmp_path, "run", build).returncode == 1
    run_dir = runs(build)[0]
    data = record(run_dir)
    data["state"] = "running"
    data["pid"] = os.getpid()  # a live process that is not pipec: the pid was reused
    (run_dir / "run.json").write_text(json.dumps(data))
    assert "killed" in pipec(tmp_path, "show", build).stdout
    flag.unlink()
    resumed = pipec(tmp_path, "run", build, "--resume")
    assert resumed.returncode == 0, resumed.stderr


def test_the_loser_of_two_resumes_is_told_the_run_is_in_use(tmp_path: Path):
    build, flag = _two_steps(tmp_path)
    flag.touch()
    assert pipec(tmp_path, "run", build).returncode == 1
    run_dir = runs(build)[0]
    data = record(run_dir)
    data["state"] = "running"  # the winner has taken the run
    (run_dir / "run.json").write_text(json.dumps(data))
    with open(run_dir / "run.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        loser = pipec(tmp_path, "run", build, "--resume")
    assert loser.returncode == 2
    assert f"run {run_dir.name} is in use by another pipec process" in loser.stderr


def test_stopping_a_leftover_step_that_became_a_zombie_does_not_wait(tmp_path: Path):
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    code = "import time, sys; time.sleep(120)"
    step = subprocess.Popen(
        [sys.executable, "-c", code, str(logs.parent)], start_new_session=True
    )  # never reaped until the end: it stays a zombie once stopped
    try:
        (logs / "s.pid").write_text(str(step.pid))
        stopping = threading.Thread(target=stop_leftover_steps, args=(logs, 3600.0), daemon=True)
        stopping.start()
        stopping.join(timeout=60)  # far below the grace period: a zombie is not waited for
        assert not stopping.is_alive()
    finally:
        step.kill()
        step.wait()


def test_sighup_stops_the_steps_and_leaves_a_resumable_run(tmp_path: Path):
    pid_file, release = tmp_path / "step.pid", tmp_path / "go"
    waits = """
import os, time

def step(pid_file, release):
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)
    return 1
"""
    inputs = {"pid_file": value(str(pid_file)), "release": value(str(release))}
    build = write_build(tmp_path / "build", [Node("wait", waits, inputs=inputs)])
    process = start_pipec(tmp_path, "run", build)
    try:
        wait_for(pid_file.exists, "the step to start")
        process.send_signal(signal.SIGHUP)
        _, stderr = process.communicate(timeout=60)
        step = int(pid_file.read_text())
        wait_for(lambda: not alive(step), "the step to be stopped")
    finally:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert process.returncode == 130, stderr
    assert record(runs(build)[0])["state"] == "interrupted"
    release.touch()
    assert pipec(tmp_path, "run", build, "--resume").returncode == 0


def test_ctrl_c_while_pipec_loads_ends_quietly():
    # SIGINT once the CLI module is loading and before the command runs.
    code = (
        "import os, signal, sys, time\n"
        "from pipec.compiler import cli\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(30)\n"
        "sys.exit(cli.main(['run', 'nowhere']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 130
    assert "Traceback" not in done.stderr


def test_a_binding_nested_150_deep_is_refused_clearly(tmp_path: Path):
    nested: dict[str, object] = {"value": 1}
    for _ in range(150):
        nested = {"list": [nested]}

    def edit(manifest: dict[str, object]) -> None:
        manifest["nodes"][0]["inputs"] = {"x": nested}  # type: ignore[index]

    build = write_build(tmp_path / "build", [Node("a", "def step(x):\n    return 1")], edit=edit)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2, done.stderr
    assert "nest more than 64 levels" in done.stderr and "Traceback" not in done.stderr
