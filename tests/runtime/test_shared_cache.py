"""A step cache shared by two users (a team's PIPEC_CACHE_DIR): entries made with a group umask
serve the other user; an entry the other user cannot read is left alone, never deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path

from buildkit import Node, node_states, record, write_build
from other_users import as_user_fixture, shared_dir_fixture  # noqa: F401 - fixtures

ALICE, BOB, TEAM = 1001, 1002, 1500


def _setup(shared_dir: Path) -> tuple[Path, Path]:
    build = write_build(
        shared_dir / "build",
        [Node("expensive", "def step():\n    return list(range(5))", cache=True)],
    )
    cache = shared_dir / "team-cache"
    cache.mkdir()
    os.chown(cache, 0, TEAM)
    cache.chmod(0o2775)  # group-writable, new folders inherit the group: how a team shares one
    for uid in (ALICE, BOB):
        (shared_dir / f"runs-{uid}").mkdir()
        os.chown(shared_dir / f"runs-{uid}", uid, TEAM)
    return build, cache


def _run(as_user, shared_dir: Path, uid: int, build: Path, cache: Path, umask: int = 0o002):
    runs_dir = shared_dir / f"runs-{uid}"
    done = as_user(
        uid, "run", build, "--runs-dir", runs_dir, "--cache-dir", cache,
        umask=umask, groups=(TEAM,),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    latest = sorted(p for p in runs_dir.iterdir() if p.is_dir())[-1]
    return done, node_states(record(latest))


def _entry_files(cache: Path) -> dict[Path, tuple[int, bytes]]:
    return {
        path: (path.stat().st_uid, path.read_bytes())
        for path in (cache / "entries").rglob("*")
        if path.is_file()
    }


def test_an_entry_made_by_one_user_serves_another(shared_dir: Path, as_user):
    build, cache = _setup(shared_dir)
    _, states = _run(as_user, shared_dir, ALICE, build, cache)
    assert states == {"expensive": "succeeded"}
    before = _entry_files(cache)
    assert before and {uid for uid, _ in before.values()} == {ALICE}

    served, states = _run(as_user, shared_dir, BOB, build, cache)
    assert states == {"expensive": "cached"}, served.stderr
    assert "corrupted" not in served.stderr and "cannot be read" not in served.stderr
    assert _entry_files(cache) == before


def test_an_entry_another_user_cannot_read_is_left_alone(shared_dir: Path, as_user):
    build, cache = _setup(shared_dir)
    _run(as_user, shared_dir, ALICE, build, cache)
    (entry_json,) = (cache / "entries").rglob("entry.json")
    entry_json.chmod(0o600)  # as older pipec versions made them
    before = _entry_files(cache)

    computed, states = _run(as_user, shared_dir, BOB, build, cache)
    assert states == {"expensive": "succeeded"}
    assert computed.stderr.count("cannot be read by this user") == 1
    assert "corrupted" not in computed.stderr
    assert _entry_files(cache) == before  # nothing deleted or replaced
    assert json.loads(entry_json.read_text())["node"] == "expensive"
