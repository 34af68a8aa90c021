"""Issue 9 family 6: `sys.exit` in the controller ends `pipec run` as it ends `python pipeline.py`.

Exit status, stdout and the program's own stderr are compared with the plain run of the same
file; pipec's status lines (`pipec: ...`) and the steps' prefixed output (`[node] ...`) are not
the program's, so they are left out of the comparison.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

PIPELINE = """
import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def double(x):
    return 2 * x


@PipelineDecorator.component(return_values=["v"])
def later(x):
    print("later ran")
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 3, code: object = None):
    doubled = double(x)
    print("before", doubled)
    if doubled > 4:
        sys.exit(code)
    after = later(doubled)
    print("after", after)
    return after


if __name__ == "__main__":
    import ast

    controller(code=ast.literal_eval(sys.argv[1]) if len(sys.argv) > 1 else None)
"""


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PIPEC_CACHE_DIR"] = str(folder / "cache")
    return env


_NOT_THE_PROGRAMS = re.compile(r"^(pipec: |\[\w+(\[\d+\])?\] )")


def _programs_stderr(stderr: str) -> str:
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not _NOT_THE_PROGRAMS.match(line)
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Differential:
    return Differential(tmp_path_factory.mktemp("exit"), PIPELINE)


def _plain(run: Differential, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(run.file), code],
        capture_output=True,
        text=True,
        cwd=run.folder,
        env=_env(run.folder),
        timeout=120,
    )


def _compiled(run: Differential, runs: Path, *params: str) -> subprocess.CompletedProcess[str]:
    argv = [str(PIPEC), "run", str(run.build_dir), "--runs-dir", str(runs), "--no-cache"]
    return subprocess.run(
        argv + [f"--param={p}" for p in params],
        capture_output=True,
        text=True,
        cwd=run.folder,
        env=_env(run.folder),
        timeout=300,
    )


def _record(runs: Path) -> dict[str, object]:
    (run_dir,) = runs.iterdir()
    record: dict[str, object] = json.loads((run_dir / "run.json").read_text())
    return record


@pytest.mark.both_modes  # the glue's exit status crosses a warm template's exit path
@pytest.mark.parametrize(
    "code",
    [
        "None",
        "0",
        "3",
        "1",
        "2",
        "70",
        "256",
        "-1",
        "1180591620717411303424",
        "True",
        "'stopping: too large'",
        "['a', 1]",
    ],
)
def test_pipec_run_exits_as_python_does_when_the_controller_calls_sys_exit(
    built: Differential, tmp_path: Path, code: str
):
    plain = _plain(built, code)
    compiled = _compiled(built, tmp_path / "runs", f"code={code}")
    assert compiled.returncode == plain.returncode, compiled.stderr
    assert compiled.stdout == plain.stdout == "before 6\n"
    assert _programs_stderr(compiled.stderr) == plain.stderr, compiled.stderr
    assert "Traceback" not in compiled.stderr
    record = _record(tmp_path / "runs")
    nodes = record["nodes"]
    assert isinstance(nodes, dict)
    exited = [name for name, node in nodes.items() if node["state"] == "exited"]
    assert len(exited) == 1
    assert record["system_exit"] == {
        "node": exited[0],
        "status": plain.returncode
        if code not in ("256", "-1", "1180591620717411303424")
        else eval(code),
        "printed": plain.stderr[:-1] or None,
        "code": repr(eval(code)),
    }
    assert nodes["later"]["state"] == "skipped"  # nothing after sys.exit runs
    assert record["state"] == ("succeeded" if plain.returncode == 0 else "failed")


def test_a_run_that_did_not_exit_records_no_exit(built: Differential, tmp_path: Path):
    compiled = _compiled(built, tmp_path / "runs", "x=1", "code=3")
    assert compiled.returncode == 0, compiled.stderr
    assert compiled.stdout == "before 2\nafter 2\n"
    assert _record(tmp_path / "runs")["system_exit"] is None


def test_pipec_show_says_where_the_run_ended(built: Differential, tmp_path: Path):
    runs = tmp_path / "runs"
    assert _compiled(built, runs, "code=0").returncode == 0
    (run_dir,) = runs.iterdir()
    shown = subprocess.run(
        [str(PIPEC), "show", str(run_dir)], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "ended by:   sys.exit(0) in " in shown.stdout
    assert "exited" in shown.stdout
