"""End to end: build every example, run it with pipec, and compare with the plain-Python run.

The plain-Python run imports the pipeline file (which uses ``from pipec import
PipelineDecorator``, the eager drop-in) and calls its controller with the same arguments,
so that the data can live in the test's temporary folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from buildkit import isolated_env, node_states, record, runs

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(path.parent for path in (REPO / "examples").glob("*/pipeline.py"))
PIPEC = Path(sys.executable).parent / "pipec"

# With their default parameters, the branches the examples' `if`s do not take.
SKIPPED = {"routing": {"promote"}}

PLAIN_RUN = """
import json, os, runpy, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))  # as `python FILE` does
namespace = runpy.run_path(sys.argv[1], run_name="pipec_plain_run")
namespace[sys.argv[2]](**json.loads(sys.argv[3]))
"""


def _run(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def _example_arguments(example: Path, tmp_path: Path) -> dict[str, object]:
    """Arguments that point the example at data written inside tmp_path."""
    maker = example / "make_dataset.py"
    if not maker.exists():
        return {}
    made = _run([sys.executable, str(maker), str(tmp_path / "data" / "dataset.pkl")], tmp_path)
    assert made.returncode == 0, made.stderr
    return {"url": made.stdout.strip().splitlines()[-1]}


@pytest.mark.both_modes
@pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is not installed")
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_runs_like_plain_python(example: Path, tmp_path: Path):
    arguments = _example_arguments(example, tmp_path)
    build = tmp_path / "build"
    built = _run([str(PIPEC), "build", str(example / "pipeline.py"), "-o", str(build)], tmp_path)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((build / "manifest.json").read_text())

    plain = _run(
        [
            sys.executable,
            "-c",
            PLAIN_RUN,
            str(example / "pipeline.py"),
            manifest["pipeline"]["function"],
            json.dumps(arguments),
        ],
        tmp_path,
    )
    assert plain.returncode == 0, plain.stderr

    params = [f"--param={name}={value}" for name, value in arguments.items()]
    cache = ["--cache-dir", str(tmp_path / "cache")]
    first = _run([str(PIPEC), "run", str(build), *params, *cache], tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == plain.stdout
    states = node_states(record(runs(build)[0]))
    skipped = {name for name, state in states.items() if state == "skipped"}
    assert skipped == SKIPPED.get(example.name, set())  # the branch Python does not take either
    assert set(states.values()) - {"skipped"} == {"succeeded"}

    second = _run([str(PIPEC), "run", str(build), *params, *cache], tmp_path)
    assert second.returncode == 0, second.stderr
    # A rerun served from the cache prints the same: cached glue replays what it printed.
    assert second.stdout == plain.stdout
    states = node_states(record(runs(build)[-1]))
    cached = {node["name"] for node in manifest["nodes"] if node["cache"]}
    assert {name for name, state in states.items() if state == "cached"} == cached
    if example.name == "iris":  # every step asks for the cache, so the glue is cached too
        assert cached == {node["name"] for node in manifest["nodes"]}

    shown = _run([str(PIPEC), "show", str(runs(build)[-1])], tmp_path)
    assert shown.returncode == 0 and "cached" in shown.stdout
