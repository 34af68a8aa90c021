"""pipec inspect on a compiled pipeline: a condition's decision, the result built from several
artifacts, every output listed, the provenance line, and a reader that stops early."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from buildkit import isolated_env

PIPEC = Path(sys.executable).parent / "pipec"

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

SOURCE = """
from clearml.automation.controller import PipelineDecorator


@PipelineDecorator.component(return_values=["items"])
def make_items(n: int):
    return list(range(n))


@PipelineDecorator.component(return_values=["sq"])
def square(x):
    return x * x


@PipelineDecorator.component(return_values=["total"])
def total(values):
    return sum(values)


@PipelineDecorator.pipeline(name="views", project="t", version="1")
def controller(n: int = 3):
    squares = [square(x) for x in make_items(n)]
    t = total(squares)
    if t > 1:
        extra = square(t)
    else:
        extra = square(0)
    return t, squares, extra
"""


def _pipec(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PIPEC), *map(str, args)],
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(SOURCE), encoding="utf-8")
    built = _pipec(tmp_path, "build", tmp_path / "pipeline.py", "-o", tmp_path / "build")
    assert built.returncode == 0, built.stderr
    ran = _pipec(tmp_path, "run", tmp_path / "build")
    assert ran.returncode == 0, ran.stderr
    (found,) = (tmp_path / "build" / "runs").iterdir()
    return found


def test_inspect_shows_the_result_the_decision_and_every_output(tmp_path: Path, run_dir: Path):
    result = _pipec(tmp_path, "inspect", run_dir, "result")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "(5, [0, 1, 4], 25)\n"
    assert "result: built from several artifacts" in result.stderr

    listing = _pipec(tmp_path, "inspect", run_dir, "--list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "make_items" in rows and "[0, 1, 2]" in rows["make_items"]
    assert "total" in rows and "square[2]" in rows
    condition = next(name for name, line in rows.items() if "decided True" in line)
    decision = _pipec(tmp_path, "inspect", run_dir, condition)
    assert decision.returncode == 0 and decision.stdout == "True\n"
    assert "the condition decided True" in decision.stderr

    elements = _pipec(tmp_path, "inspect", run_dir, "map_1")
    assert elements.returncode == 0, elements.stderr
    assert elements.stdout == "[0, 1, 2]\n" and "3 elements" in elements.stderr

    one = _pipec(tmp_path, "inspect", run_dir, "total")
    assert one.stdout == "5\n"
    assert "written by Python 3." in one.stderr and "None" not in one.stderr


def test_inspect_list_says_when_a_preview_cannot_be_read(tmp_path: Path, run_dir: Path):
    (meta,) = (run_dir / "artifacts" / "make_items").glob("*.meta.json")
    meta.unlink()
    listing = _pipec(tmp_path, "inspect", run_dir, "--list")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert rows["make_items"].endswith("(meta file not readable)")
    assert "(meta file not readable)" not in rows["total"]


def test_inspect_refuses_a_result_file_that_changed(tmp_path: Path, run_dir: Path):
    square = run_dir / "artifacts" / "square[1]" / "sq.pkl"
    square.write_bytes(square.read_bytes() + b"\0")
    changed = _pipec(tmp_path, "inspect", run_dir, "result")
    assert changed.returncode == 2 and "refusing to load it" in changed.stderr
    assert changed.stdout == ""
