"""pipec prune, the cache's size limit, pipec cache info and clear."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from pathlib import Path

from buildkit import Node, Param, isolated_env, param, pipec, pipec_argv, runs, write_build

# About 100 KB of output per tag, so that a few entries outgrow a small limit.
BULKY = "def step(tag):\n    return tag * 100_000"


def _build(tmp_path: Path) -> Path:
    return write_build(
        tmp_path / "build",
        [Node("make", BULKY, inputs={"tag": param("tag")}, cache=True)],
        params=[Param("tag", "str", "a")],
    )


def _pipec(tmp_path: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pipec_argv(*args),
        capture_output=True,
        text=True,
        env={**isolated_env(tmp_path), **env},
        timeout=120,
        check=False,
    )


def test_prune_keeps_the_newest_runs_and_never_one_a_session_holds(tmp_path: Path):
    build = _build(tmp_path)
    for _ in range(4):
        assert pipec(tmp_path, "run", build).returncode == 0
    first, second, third, fourth = runs(build)

    kept = pipec(tmp_path, "prune", build, "--keep", "2")
    assert kept.returncode == 0, kept.stderr
    assert runs(build) == [third, fourth]
    assert f"removed {first.name}" in kept.stdout and f"removed {second.name}" in kept.stdout

    # A session holds the third run (as a resume does while it works): it stays.
    descriptor = os.open(third / "run.lock", os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held = pipec(tmp_path, "prune", build, "--keep", "0")
    finally:
        os.close(descriptor)
    assert held.returncode == 0, held.stderr
    assert runs(build) == [third]
    assert f"kept {third.name}: a pipec session holds it" in held.stderr


def test_prune_older_than_goes_by_the_last_activity(tmp_path: Path):
    build = _build(tmp_path)
    for _ in range(2):
        assert pipec(tmp_path, "run", build).returncode == 0
    old, new = runs(build)
    data = json.loads((old / "run.json").read_text())
    data["updated"] = data["ended"] = data["created"] = "2020-01-01T00:00:00+00:00"
    (old / "run.json").write_text(json.dumps(data))

    dry = pipec(tmp_path, "prune", build, "--older-than", "7d", "--dry-run")
    assert f"would remove {old.name}" in dry.stdout and runs(build) == [old, new]
    pruned = pipec(tmp_path, "prune", build, "--older-than", "7d")
    assert pruned.returncode == 0, pruned.stderr
    assert runs(build) == [new]

    for mistake in (["--older-than", "soon"], []):
        refused = pipec(tmp_path, "prune", build, *mistake)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert runs(build) == [new]


def test_the_cache_evicts_the_least_recently_used_entry_past_its_limit(tmp_path: Path):
    build = _build(tmp_path)
    limit = {"PIPEC_CACHE_MAX": "250K"}
    for tag in ("a", "b", "a"):  # the third run is a hit, which makes "a" the recent one
        assert _pipec(tmp_path, "run", build, "--param", f"tag={tag}", **limit).returncode == 0
    third = _pipec(tmp_path, "run", build, "--param", "tag=c", **limit)
    assert third.returncode == 0, third.stderr

    info = _pipec(tmp_path, "cache", "info", **limit)
    assert info.returncode == 0, info.stderr
    assert "entries:  2" in info.stdout and "limit:    250.0 KiB" in info.stdout

    again_a = _pipec(tmp_path, "run", build, "--param", "tag=a", **limit)
    assert "cached make" in again_a.stderr
    again_b = _pipec(tmp_path, "run", build, "--param", "tag=b", **limit)
    assert again_b.returncode == 0 and "cached make" not in again_b.stderr  # b was evicted

    cleared = _pipec(tmp_path, "cache", "clear")
    assert cleared.returncode == 0 and "removed 2 cache entries" in cleared.stdout
    assert "entries:  0" in _pipec(tmp_path, "cache", "info").stdout


def test_a_bad_cache_limit_is_a_usage_error(tmp_path: Path):
    build = _build(tmp_path)
    bad = _pipec(tmp_path, "run", build, PIPEC_CACHE_MAX="lots")
    assert bad.returncode == 2 and "PIPEC_CACHE_MAX" in bad.stderr
    assert "Traceback" not in bad.stderr and runs(build) == []
