"""pipec show and pipec inspect."""

from __future__ import annotations

import json
from pathlib import Path

from buildkit import Node, out, pipec, runs, value, write_build


def _build(tmp_path: Path) -> Path:
    return write_build(
        tmp_path / "build",
        [
            Node(
                "numbers",
                "def step(n):\n    return {'n': n, 'squares': [i * i for i in range(n)]}",
                inputs={"n": value(4)},
                cache=True,
            ),
            Node(
                "pair",
                "def step(d):\n    return d['n'], len(d['squares'])",
                inputs={"d": out("numbers")},
                outputs=("first", "second"),
            ),
        ],
    )


def test_show_lists_runs_and_details(tmp_path: Path):
    build = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    assert pipec(tmp_path, "run", build).returncode == 0
    listing = pipec(tmp_path, "show", build)
    assert listing.returncode == 0
    for run_dir in runs(build):
        assert run_dir.name in listing.stdout
    assert listing.stdout.count("succeeded") >= 2

    details = pipec(tmp_path, "show", runs(build)[-1])
    assert details.returncode == 0
    lines = details.stdout.splitlines()
    header = next(line for line in lines if line.startswith("step"))
    assert header.split() == ["step", "state", "duration", "cached", "attempts", "outputs"]
    numbers = next(line for line in lines if line.startswith("numbers "))
    assert numbers.split()[1] == "cached" and numbers.split()[3] == "yes"
    pair = next(line for line in lines if line.startswith("pair "))
    assert "first (" in pair and "second (" in pair

    as_json = json.loads(pipec(tmp_path, "show", runs(build)[-1], "--json").stdout)
    assert as_json["nodes"]["numbers"]["cache_hit"] is True
    listed = json.loads(pipec(tmp_path, "show", build, "--json").stdout)
    assert [row["run_id"] for row in listed] == [r.name for r in runs(build)]


def test_show_explains_a_bad_target(tmp_path: Path):
    done = pipec(tmp_path, "show", tmp_path / "missing")
    assert done.returncode == 2 and "no such build folder or run folder" in done.stderr


def test_inspect_prints_an_artifact(tmp_path: Path):
    build = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    run_dir = runs(build)[0]
    shown = pipec(tmp_path, "inspect", run_dir, "numbers")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "{'n': 4, 'squares': [0, 1, 4, 9]}\n"
    assert pipec(tmp_path, "inspect", run_dir, "pair.second").stdout == "4\n"
    ambiguous = pipec(tmp_path, "inspect", run_dir, "pair")
    assert ambiguous.returncode == 2 and "pair.first, pair.second" in ambiguous.stderr
    unknown = pipec(tmp_path, "inspect", run_dir, "nope")
    assert unknown.returncode == 2 and "has no node 'nope'" in unknown.stderr
