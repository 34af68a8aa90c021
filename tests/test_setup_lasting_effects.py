"""Issue 9, module-level setup: every script of a build runs it, where Python runs it once.

Setup whose effect ends with the process or comes out the same however often it runs keeps
running in each script; a call whose effect lands outside the process and adds up (a file
appended to, a folder deleted, a command run, a row inserted) or fails when repeated is
refused at its line (PC026)."""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

import pytest
from differential import PIPEC, Differential

from pipec.compiler.cli import main as pipec_main

PIPELINE = """


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    return step(a)
"""

HEAD = """\
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from pipec import PipelineDecorator

OUT = "outputs"
"""


def _check(tmp_path: Path, setup: str) -> tuple[int, str, int]:
    """(exit code, stderr, line of the setup's last statement) of `pipec check`."""
    body = HEAD + textwrap.dedent(setup).strip() + "\n"
    path = tmp_path / "pipeline.py"
    path.write_text(body + PIPELINE, encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = pipec_main(["check", str(path)])
    return code, stderr.getvalue(), body.count("\n")


@pytest.mark.parametrize(
    "setup",
    [
        'with open("run.log", mode="a") as log:\n    log.write("started\\n")',
        'LOG = open("run.log", "a")\nLOG.write("started\\n")',
        'Path("run.log").open("a").write("started")',
        'open("run.lock", "x")',
        "os.mkdir(OUT)",
        "os.makedirs(OUT)",
        "os.makedirs(OUT, exist_ok=False)",
        "Path(OUT).mkdir(parents=True)",
        'Path(OUT, "marker").touch(exist_ok=False)',
        "shutil.rmtree(OUT, ignore_errors=True)",
        'os.remove("stale.txt")',
        'Path("stale.txt").unlink(missing_ok=True)',
        'os.rename("a.txt", "b.txt")',
        'subprocess.run(["git", "tag", "run"])',
        'os.system("date >> run.log")',
        'sqlite3.connect("runs.db").execute("INSERT INTO runs VALUES (1)")',
        "if OUT:\n    os.makedirs(OUT)",
        "try:\n    shutil.rmtree(OUT)\nexcept OSError:\n    pass",
        "try:\n    os.mkdir(OUT)\nexcept ValueError:\n    pass",
        "def clean():\n    shutil.rmtree(OUT)\n\n\ndef start():\n    clean()\n\n\nstart()",
        'if __name__ != "__main__":\n    pass\nelse:\n    os.makedirs(OUT)',
    ],
)
def test_setup_with_a_lasting_effect_is_refused_at_its_line(tmp_path: Path, setup: str):
    code, stderr, last = _check(tmp_path, setup)
    assert code == 2, stderr
    assert "error[PC026]" in stderr, stderr
    first = len(HEAD.splitlines()) + 1
    lines = [int(part.split(":")[1]) for part in stderr.splitlines() if "error[PC026]" in part]
    assert all(first <= line <= last for line in lines), stderr
    assert "Python runs it once" in stderr and "hint:" in stderr


@pytest.mark.parametrize(
    "setup",
    [
        "os.makedirs(OUT, exist_ok=True)",
        'Path(OUT, "plots").mkdir(parents=True, exist_ok=True)',
        'Path(OUT, "marker").touch()',
        'open("settings.txt", "w").write("fast\\n")',
        'with open("settings.txt", "w") as f:\n    f.write("fast\\n")',
        'if not os.path.exists("data.csv"):\n    open("data.csv", "x").write("1,2\\n")',
        "if not Path(OUT).exists():\n    os.mkdir(OUT)",
        "try:\n    os.mkdir(OUT)\nexcept FileExistsError:\n    pass",
        'try:\n    open("run.lock", "x").close()\nexcept (ValueError, OSError):\n    pass',
        'LOG = open("run.log", "a")',
        'DB = sqlite3.connect("runs.db")\nDB.execute("CREATE TABLE IF NOT EXISTS runs (n INT)")',
        'os.environ["MODE"] = "fast"',
        'REPORT = "a,b".replace(",", ";")',
    ],
)
def test_setup_that_comes_out_the_same_each_time_builds(tmp_path: Path, setup: str):
    code, stderr, _ = _check(tmp_path, setup)
    assert "PC026" not in stderr
    assert code == 0, stderr


@pytest.mark.parametrize(
    "setup",
    [
        'print("started", file=open("run.log", "a"))',
        'with open("run.log", "a") as log:\n    print("started", file=log)',
    ],
)
def test_a_module_level_print_to_a_file_is_refused(tmp_path: Path, setup: str):
    # The scripts leave module-level prints out: the file would never get its line.
    code, stderr, last = _check(tmp_path, setup)
    assert code == 2 and "error[PC027]" in stderr, stderr
    assert f":{last}:" in stderr and "no script of the build would write it" in stderr


def test_a_module_level_print_to_the_output_builds(tmp_path: Path):
    code, stderr, _ = _check(tmp_path, 'import sys\nprint("loading", file=sys.stderr)')
    assert code == 0 and "PC027" not in stderr, stderr


@pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")
def test_idempotent_setup_runs_in_each_script_with_plain_pythons_results(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import logging
import os
import random
import warnings
from pathlib import Path

from pipec import PipelineDecorator

OUT = "outputs"
random.seed(3)
os.environ["PIPEC_TEST_MODE"] = "fast"
logging.basicConfig(level=logging.INFO)
warnings.filterwarnings("ignore")
os.makedirs(OUT, exist_ok=True)
Path(OUT, "plots").mkdir(parents=True, exist_ok=True)
with open(os.path.join(OUT, "settings.txt"), "w") as f:
    f.write("mode=fast\\n")
if not os.path.exists(os.path.join(OUT, "seed.txt")):
    Path(OUT, "seed.txt").write_text("3\\n")


@PipelineDecorator.component(return_values=["v"])
def first(x):
    Path(OUT, "first.txt").write_text(str(x))
    return x + random.randint(0, 100)


@PipelineDecorator.component(return_values=["v"])
def second(x):
    settings = Path(OUT, "settings.txt").read_text()
    return x, settings, sorted(os.listdir(OUT)), os.environ["PIPEC_TEST_MODE"]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = second(first(a))
    print(v)
    return v
""",
    )
    plain, _ = run.same()
    assert plain.result[1:] == (
        "mode=fast\n",
        ["first.txt", "plots", "seed.txt", "settings.txt"],
        "fast",
    )
