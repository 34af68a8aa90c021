"""Issue 9, family 1: a change to an object a module keeps (`os.environ`, `sys.path`, the state
of `random`) made through another name or through a method, and used by a later block of
controller code, is refused at its line; each block runs in a process of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

HEAD = """import os
import random
import sys
from os import environ as ENV

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
"""
FIRST_LINE = HEAD.count("\n") + 1


@pytest.mark.parametrize(
    ("body", "code", "line"),
    [
        (
            'env = os.environ\nenv["PIPEC_PROBE"] = "1"\nprint(os.environ.get("PIPEC_PROBE"))',
            "PC613",
            1,
        ),
        ('env = os.environ\ndel env["HOME"]\nprint(os.environ.get("HOME"))', "PC613", 1),
        (
            'env = os.environ\nenv.update(PIPEC_PROBE="1")\nprint(os.environ.get("PIPEC_PROBE"))',
            "PC613",
            1,
        ),
        (
            'os.environ.update({"PIPEC_PROBE": "1"})\nprint(os.environ.get("PIPEC_PROBE"))',
            "PC613",
            0,
        ),
        (
            'os.environ.setdefault("PIPEC_PROBE", "1")\nprint(os.environ.get("PIPEC_PROBE"))',
            "PC613",
            0,
        ),
        ('ENV.pop("HOME", None)\nprint(os.environ.get("HOME"))', "PC613", 0),
        ('sys.path.append("/nowhere")\nprint(sys.path[-1])', "PC613", 0),
        ('path = sys.path\npath.insert(0, "/nowhere")\nprint(sys.path[0])', "PC613", 1),
        ("r = random\nr.seed(3)\nprint(random.random())", "PC698", 3),
        ("random.seed(3)\nr = random\nprint(r.random())", "PC698", 3),
    ],
)
def test_changes_through_an_alias_or_a_method_are_refused(
    tmp_path: Path, body: str, code: str, line: int
):
    # A step call between the change and the use puts them in two blocks of controller code.
    lines = body.splitlines()
    lines.insert(-1, "n = one(1)")
    source = HEAD + "".join(f"    {text}\n" for text in lines)
    run = Differential(tmp_path, source)
    assert run.refused_codes == [code]
    assert run.refusal is not None
    assert run.refusal.diagnostics[0].location.line == FIRST_LINE + line


def test_an_alias_only_read_runs_as_python_does(tmp_path: Path):
    source = HEAD + (
        "    env = os.environ\n"
        "    r = random\n"
        "    n = one(1)\n"
        '    print(env.get("PIPEC_NOT_SET"), "PATH" in env, r.random() < 1, n)\n'
        "    os.remove(os.path.join(os.getcwd(), 'missing')) if n == 0 else None\n"
    )
    plain, _ = Differential(tmp_path, source).same()
    assert plain.stdout == "None True True 2\n"
