"""A failing step or glue reads like a failing Python program that points at the pipeline file."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import InlineBuild, run_pipec

from pipec.compiler.line_map import CarriedPiece, LineRange, map_lines

_PIPELINE = """
from pipec import PipelineDecorator

LIMIT = 3


def check(value):
    if value > LIMIT:
        raise ValueError(f"value {value} is over {LIMIT}")
    return value


@PipelineDecorator.component(return_values=["a"])
def flaky(n: int):
    total = n * 2
    return check(total)


@PipelineDecorator.component(return_values=["a", "b"])
def pair(n: int):
    out = [n] * n
    return out


@PipelineDecorator.pipeline(name="flaky", project="p", version="1")
def flow(n: int = 1, m: int = 2):
    x = flaky(n)
    y = pair(m)
    # a comment the glue carries
    z = 1 / (m - 2)
    print(x, y, z)


if __name__ == "__main__":
    flow()
"""


def _run(built: InlineBuild, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pipec("run", built.folder, *args, cwd=built.source.parent.parent)


def test_a_failing_step_shows_the_users_frames_once_at_their_lines(
    build_inline: Callable[..., InlineBuild],
):
    built = build_inline(_PIPELINE)
    done = _run(built, "--param", "n=4")
    assert done.returncode == 1
    trace = [
        line.removeprefix("[flaky] ") for line in done.stderr.splitlines() if "[flaky]" in line
    ]
    assert trace == [
        "Traceback (most recent call last):",
        "  pipeline/pipeline.py:15, in flaky",
        "    return check(total)",
        "  pipeline/pipeline.py:8, in check",
        '    raise ValueError(f"value {value} is over {LIMIT}")',
        "ValueError: value 8 is over 3",
    ]
    assert done.stderr.count("Traceback") == 1
    assert "_pipec" not in done.stderr and "steps/flaky.py" not in done.stderr
    assert "FAILED flaky: ValueError: value 8 is over 3 (at pipeline/pipeline.py:8, in check)" in (
        done.stderr
    )


def test_a_failing_glue_shows_the_controllers_line_and_name(
    build_inline: Callable[..., InlineBuild],
):
    built = build_inline(_PIPELINE)
    done = _run(built)
    assert done.returncode == 1
    assert "[glue_1]   pipeline/pipeline.py:29, in flow\n[glue_1]     z = 1 / (m - 2)\n" in (
        done.stderr
    )
    assert "FAILED glue_1: ZeroDivisionError: division by zero (at pipeline/pipeline.py:29" in (
        done.stderr
    )


def test_verbose_shows_every_frame(build_inline: Callable[..., InlineBuild]):
    built = build_inline(_PIPELINE)
    done = _run(built, "--param", "n=4", "--verbose")
    assert done.returncode == 1
    assert "in _pipec_main" in done.stderr and "steps/flaky.py" in done.stderr


def test_the_summary_gives_both_counts_of_a_wrong_number_of_outputs(
    build_inline: Callable[..., InlineBuild],
):
    built = build_inline(_PIPELINE)
    done = _run(built, "--param", "m=3")
    assert done.returncode == 1
    assert (
        "FAILED pair: wrong number of outputs: pair returned 3 values but return_values names 2: "
        "a, b"
    ) in done.stderr


def test_a_missing_input_is_named(build_inline: Callable[..., InlineBuild], tmp_path: Path):
    built = build_inline(_PIPELINE)
    gone = tmp_path / "gone.pkl"
    done = subprocess.run(
        [sys.executable, built.folder / "steps" / "pair.py", f"--input=n={gone}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 5
    assert done.stderr == f"error: missing input n: no such file {gone}\n"


def test_a_killed_step_names_the_signal(build_inline: Callable[..., InlineBuild]):
    built = build_inline(
        """
        import os
        import signal

        from pipec import PipelineDecorator


        @PipelineDecorator.component(return_values=["a"])
        def doomed():
            os.kill(os.getpid(), signal.SIGKILL)


        @PipelineDecorator.pipeline(name="doomed", project="p", version="1")
        def flow():
            doomed()
        """
    )
    done = _run(built)
    assert done.returncode == 1
    assert "FAILED doomed: killed by signal 9 (SIGKILL: out of memory, or killed by hand)" in (
        done.stderr
    )


def test_lines_are_mapped_by_their_text_and_rewritten_lines_take_the_next_one():
    source = "a = 1\n\ndef f():\n    x = 1\n    return x\n"
    script = "# header\ndef f():\n    x = 1\n    return x\n\n\ndef g(x):\n    return {'r': x}\n"
    pieces = [
        CarriedPiece("def f():\n    x = 1\n    return x"),
        CarriedPiece("def g(x):\n    return {'r': x}", window=(5, 5)),
    ]
    assert map_lines(script, source, pieces) == (LineRange(2, 4, 3), LineRange(8, 8, 5))
