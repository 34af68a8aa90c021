"""Invalid pipeline files: one mistake per file, diagnostics snapshotted, exit 2, nothing written."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from conftest import run_pipec
from golden_build import (
    INVALID,
    REGENERATE,
    VALID_FROM_PYTHON,
    build_file,
    check_invalid,
    invalid_case_names,
    invalid_here,
)

from pipec.compiler.cli import main as pipec_main
from pipec.literals import Literal

CASES = [name for name in invalid_case_names() if invalid_here(name)]
# Files that hold several mistakes on purpose; every other file holds exactly one.
SEVERAL = {"several_mistakes"}
LOCATION = re.compile(
    r"^(?P<path>[^\s:]+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning)\[PC\d{3}\]: ",
    re.M,
)


def test_the_required_cases_are_there():
    required = {
        "syntax_error",
        "no_pipeline",
        "two_pipelines",
        "too_many_positional",
        "unknown_keyword",
        "missing_argument",
        "unpack_four_into_three",
        "return_values_not_literal",
        "if_in_runtime_loop",
        "for_loop_carried_value",
        "while_in_controller",
        "try_in_controller",
        "with_in_controller",
        "import_in_controller",
        "star_args_in_step_call",
        "component_in_class",
        "component_in_function",
        "undefined_name",
        "parameter_default_not_literal",
        "several_mistakes",
    }
    assert required <= set(CASES)


@pytest.mark.parametrize("case", sorted(VALID_FROM_PYTHON))
def test_a_case_of_newer_syntax_builds_on_the_python_that_has_it(case: str):
    if invalid_here(case):
        pytest.skip(f"{case} is a mistake on this Python: its snapshot is checked")
    code, stderr = check_invalid(case)
    assert code == 0, stderr


@pytest.mark.parametrize("case", CASES)
def test_diagnostics_match_the_snapshot(case: str):
    code, stderr = check_invalid(case)
    assert code == 2
    assert "Traceback" not in stderr and "internal error" not in stderr
    snapshot = INVALID / f"{case}.txt"
    assert snapshot.is_file(), f"no snapshot for {case}; run `{REGENERATE}`"
    assert stderr == snapshot.read_text(encoding="utf-8"), (
        f"stale snapshot {snapshot.name}; if intended, run `{REGENERATE}`"
    )


@pytest.mark.parametrize("case", sorted(set(CASES) - SEVERAL))
def test_one_mistake_is_one_error(case: str):
    """A follow-up error caused by the first one ("`y` is used before it is assigned") misleads."""
    _, stderr = check_invalid(case)
    errors = [m for m in LOCATION.finditer(stderr) if m["severity"] == "error"]
    assert len(errors) == 1, stderr


@pytest.mark.parametrize("case", CASES)
def test_diagnostics_point_into_the_file_and_end_with_a_summary(case: str):
    _, stderr = check_invalid(case)
    locations = list(LOCATION.finditer(stderr))
    assert locations, stderr
    text = (INVALID / f"{case}.py").read_text().splitlines()
    for match in locations:
        assert match["path"] == f"tests/cases/invalid/{case}.py"
        assert 1 <= int(match["line"]) <= len(text)
    errors = sum(1 for m in locations if m["severity"] == "error")
    assert (
        stderr.rstrip("\n").splitlines()[-1]
        == f"pipec: {errors} error{'s' if errors != 1 else ''}; nothing was written"
    )


def test_several_mistakes_are_all_reported_sorted_by_line():
    _, stderr = check_invalid("several_mistakes")
    lines = [int(m["line"]) for m in LOCATION.finditer(stderr)]
    assert lines == sorted(lines)
    messages = [line for line in stderr.splitlines() if LOCATION.match(line)]
    assert len(messages) == 5, stderr
    for expected in (
        "4 outputs but is unpacked into 2",
        "positional argument",
        "`while`",
        "`factor`",
        "`unknown`",
    ):
        assert any(expected in m for m in messages), (expected, stderr)


def test_the_caret_points_at_the_undefined_name():
    _, stderr = check_invalid("undefined_name")
    source_line = "    return y + offset"
    assert LOCATION.search(stderr)["column"] == str(source_line.index("offset") + 1), stderr


@pytest.mark.parametrize("case", CASES)
def test_build_writes_nothing(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copy(INVALID / f"{case}.py", tmp_path / "pipeline.py")
    # The packages some cases import (`case_shapes`) come along, as they sit beside the cases.
    for package in INVALID.iterdir():
        if package.is_dir() and (package / "__init__.py").exists():
            shutil.copytree(package, tmp_path / package.name)
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    for argv in (["build", "pipeline.py"], ["build", "pipeline.py", "-o", "out"]):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            code = pipec_main(argv)
        assert code == 2
        assert "nothing was written" in stderr.getvalue()
        assert sorted(p.name for p in tmp_path.iterdir()) == before, "pipec build wrote something"


def test_the_real_command_prints_the_snapshot(tmp_path: Path):
    """The snapshots are taken in-process; the console script prints the same, with no traceback."""
    case = "several_mistakes"
    done = run_pipec("check", f"tests/cases/invalid/{case}.py")
    assert done.returncode == 2
    assert done.stderr == (INVALID / f"{case}.txt").read_text(encoding="utf-8")
    done = run_pipec("build", f"tests/cases/invalid/{case}.py", "-o", tmp_path / "out")
    assert done.returncode == 2 and done.stdout == ""
    assert not (tmp_path / "out").exists()


def test_choosing_one_of_two_pipelines_builds_it():
    for wanted, default in (("second", 4), ("first", 3)):
        result = build_file(INVALID / "two_pipelines.py", "two_pipelines.py", pipeline=wanted)
        assert result.manifest.pipeline.name == wanted
        assert result.manifest.parameters[0].default == Literal.of(default)
