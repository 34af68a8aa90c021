"""A name a script reads that Python binds only after the pipeline has run (issue 10): code after
the `__main__` block, or a line of the block after the pipeline call. `python pipeline.py` stops
with NameError there, and so does the compiled run; the build says so at the reading line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import run_pipec
from differential import Differential

LATE = """
from pipec import PipelineDecorator


def scale(v):
    return v * FACTOR


@PipelineDecorator.component(return_values=["a"])
def one(x):
    return scale(x) + 1


@PipelineDecorator.component(return_values=["b"])
def two(a):
    return a + LIMIT


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    return two(one(x))


if __name__ == "__main__":
    print("result", controller())
    LIMIT = 10

FACTOR = 3
"""


def _check(folder: Path, text: str) -> tuple[int, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.py").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    done = run_pipec("check", "pipeline.py", cwd=folder)
    return done.returncode, done.stderr


def test_a_name_bound_after_the_main_block_is_a_warning_at_the_reading_line(tmp_path: Path):
    code, stderr = _check(tmp_path, LATE)
    assert code == 0
    assert stderr == (
        "pipeline.py:5:16: warning[PC028]: `FACTOR` is bound at line 27, after the `__main__` "
        "block: when the pipeline runs it is not defined yet (NameError, as in Python)\n"
        "        return v * FACTOR\n"
        "                   ^\n"
        '  hint: move the line that binds `FACTOR` above `if __name__ == "__main__":`, so that '
        "it runs before the pipeline\n"
        "pipeline.py:15:16: warning[PC028]: `LIMIT` is bound at line 25, in the `__main__` block "
        "after the pipeline call: when the pipeline runs it is not defined yet (NameError, as in "
        "Python)\n"
        "        return a + LIMIT\n"
        "                   ^\n"
        "  hint: move the line that binds `LIMIT` above the pipeline call, so that it runs before "
        "the pipeline\n"
    )


def test_the_compiled_run_fails_with_the_same_name_error_as_python_running_the_file(
    tmp_path: Path,
):
    run = Differential(tmp_path, LATE)
    plain = subprocess.run(
        [sys.executable, "pipeline.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines()[-1] == "NameError: name 'FACTOR' is not defined"
    compiled = run.compiled()
    assert not compiled.ok
    assert "NameError: name 'FACTOR' is not defined" in compiled.stderr


def test_the_controller_reading_a_late_name_is_warned(tmp_path: Path):
    source = LATE.replace("    return two(one(x))", "    y = x + OFFSET\n    return two(one(y))")
    source += "\n\nOFFSET = 5\n"
    code, stderr = _check(tmp_path, source)
    assert code == 0
    warned = [line for line in stderr.splitlines() if "warning[" in line]
    assert [line.split(": warning")[0] for line in warned] == [
        "pipeline.py:5:16",  # FACTOR in the helper carried into step `one`
        "pipeline.py:15:16",  # LIMIT in step `two`
        "pipeline.py:20:13",  # OFFSET in the controller's code
    ]
    assert "`OFFSET` is bound at line 31, after the `__main__` block" in warned[2]


def test_a_module_statement_reading_a_late_name_is_refused_as_python_cannot_import_it(
    tmp_path: Path,
):
    # Python runs `SCALED = [FACTOR]` as it imports the file, long before the `__main__` block
    source = LATE.replace(
        "def scale(v):\n    return v * FACTOR\n",
        "SCALED = [FACTOR]\n\n\ndef scale(v):\n    return v * SCALED[0]\n",
    )
    code, stderr = _check(tmp_path, source)
    assert code == 2
    assert stderr.startswith(
        "pipeline.py:4:11: error[PC031]: `FACTOR` is read while the file is imported, but Python "
        "binds it only at line 30"
    )


def test_a_name_also_bound_before_the_main_block_is_not_warned(tmp_path: Path):
    source = LATE.replace(
        "from pipec import PipelineDecorator\n",
        "from pipec import PipelineDecorator\n\nFACTOR = 2\nLIMIT = 1\n",
    )
    assert _check(tmp_path, source) == (0, "")


FOLDED = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["a"])
def one(x):
    print("one ran")
    return x + 1


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    if FLAG:
        x = one(x)
    return one(x)


if __name__ == "__main__":
    print(controller())

FLAG = True
"""


def test_a_late_constant_is_not_folded_into_the_controller(tmp_path: Path):
    # Folding `FLAG` would run `one` where Python stops at the `if` with NameError.
    code, stderr = _check(tmp_path / "check", FOLDED)
    assert code == 0
    assert "pipeline.py:12:8: warning[PC028]: `FLAG` is bound at line 20" in stderr
    run = Differential(tmp_path / "run", FOLDED)
    plain = subprocess.run(
        [sys.executable, "pipeline.py"],
        cwd=tmp_path / "run",
        capture_output=True,
        text=True,
        check=False,
    )
    assert (plain.stdout, plain.stderr.strip().splitlines()[-1]) == (
        "",
        "NameError: name 'FLAG' is not defined",
    )
    compiled = run.compiled()
    assert not compiled.ok
    assert "one ran" not in compiled.stdout
    assert "NameError: name 'FLAG' is not defined" in compiled.stderr
