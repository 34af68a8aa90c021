"""Decorator options that only describe a ClearML run (issue 10): `task_type=TaskTypes.x` is read
without a word, and an option kind that does nothing here is one warning per build, naming every
place it is set. Each test shows what `pipec check` prints."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from conftest import run_pipec


def _check(tmp_path: Path, text: str, *options: str) -> tuple[int, str]:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    done = run_pipec("check", "pipeline.py", *options, cwd=tmp_path)
    return done.returncode, done.stderr


TASK_TYPES = """
import clearml
from clearml import PipelineDecorator, Task, TaskTypes


@PipelineDecorator.component(return_values=["a"], task_type=TaskTypes.data_processing)
def prepare(x):
    return x + 1


@PipelineDecorator.component(return_values=["b"], task_type=Task.TaskTypes.training)
def train(a):
    return a * 2


@PipelineDecorator.component(return_values=["c"], task_type=clearml.Task.TaskTypes.qc)
def check(b):
    return b * 3


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    return check(train(prepare(x)))
"""


def test_task_types_reached_through_clearml_fold_to_the_member_name_without_a_warning(
    tmp_path: Path,
):
    code, stderr = _check(tmp_path, TASK_TYPES)
    assert (code, stderr) == (0, "")
    built = run_pipec("build", "pipeline.py", "-o", "out", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    kinds = {n["name"]: n["options"]["task_type"] for n in manifest["nodes"]}
    assert kinds == {"prepare": "data_processing", "train": "training", "check": "qc"}


def test_an_unknown_task_type_is_an_error_with_did_you_mean(tmp_path: Path):
    code, stderr = _check(tmp_path, TASK_TYPES.replace("TaskTypes.training", "TaskTypes.trainig"))
    assert code == 2
    assert stderr == (
        "pipeline.py:10:76: error[PC121]: ClearML's `TaskTypes` has no member `trainig`; "
        "did you mean `training`?\n"
        '    @PipelineDecorator.component(return_values=["b"], '
        "task_type=Task.TaskTypes.trainig)\n"
        f"    {' ' * 75}^\n"
        "  hint: Python stops with AttributeError when it imports the file; the members are: "
        "training, testing, inference, data_processing, application, monitor, controller, "
        "optimizer, service, qc, custom\n"
        "pipec: 1 error; nothing was written\n"
    )


def test_a_task_types_class_of_the_file_itself_is_still_kept_as_source(tmp_path: Path):
    # Only ClearML's enum is known; a class of the same name in the file is code pipec never runs.
    source = TASK_TYPES.replace(
        "from clearml import PipelineDecorator, Task, TaskTypes",
        'from clearml import PipelineDecorator, Task\n\n\nclass TaskTypes:\n    qc = "qc"\n',
    ).replace("Task.TaskTypes.training", "TaskTypes.training")
    code, stderr = _check(tmp_path, source)
    assert code == 0
    assert "warning[PC103]: option `task_type` is computed when the file is imported" in stderr
    assert stderr.count("warning[") == 1


INERT_EVERYWHERE = """
import os

from clearml import PipelineDecorator


@PipelineDecorator.component(return_values=["a"], docker="python:3.12", repo="https://h/r.git")
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["b"], docker="python:3.12")
def two(a):
    return a * 2


@PipelineDecorator.component(return_values=["c"], docker="python:3.12")
def three(b):
    return b * 3


@PipelineDecorator.component(return_values=["d"], docker="python:3.12", execution_queue=Q)
def four(c):
    return c * 4


@PipelineDecorator.component(return_values=["e"], docker="python:3.12")
def five(d):
    return d * 5


@PipelineDecorator.pipeline(
    name="p",
    project="p",
    version=os.getenv("VERSION", "1"),
    docker="python:3.12",
    repo="https://h/r.git",
    pipeline_execution_queue="controller",
)
def controller(x: int = 1):
    return five(four(three(two(one(x)))))
"""


def test_an_option_set_on_steps_and_on_the_pipeline_is_one_warning_naming_its_places(
    tmp_path: Path,
):
    source = "import os\nQ = os.getenv('QUEUE', 'cpu')\n" + INERT_EVERYWHERE.replace(
        "import os\n", "", 1
    )
    code, stderr = _check(tmp_path, source)
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "warning[" in line]
    assert warnings == [
        "pipeline.py:8:58: warning[PC102]: option `docker` needs a ClearML server and does "
        "nothing in pipec (also at lines 13, 18, 23 and 2 more)",
        "pipeline.py:8:78: warning[PC102]: option `repo` needs a ClearML server and does nothing "
        "in pipec (also at line 38)",
        "pipeline.py:23:89: warning[PC103]: option `execution_queue` is computed when the file "
        "is imported; pipec keeps its source text `Q` and never runs it",
        "pipeline.py:36:13: warning[PC103]: option `version` is computed when the file is "
        'imported; pipec keeps its source text `os.getenv("VERSION", "1")` and never runs it',
        "pipeline.py:39:30: warning[PC151]: pipeline option `pipeline_execution_queue` needs a "
        "ClearML server and does nothing in pipec",
    ]


def test_an_option_only_the_pipeline_sets_is_the_pipeline_rule_at_its_place(tmp_path: Path):
    source = INERT_EVERYWHERE.replace(', docker="python:3.12"', ", cache=False").replace(
        ", execution_queue=Q", ""
    )
    code, stderr = _check(tmp_path, source)
    assert code == 0, stderr
    docker = [line for line in stderr.splitlines() if "`docker`" in line]
    assert docker == [
        "pipeline.py:35:12: warning[PC151]: pipeline option `docker` needs a ClearML server and "
        "does nothing in pipec"
    ]


def test_a_metadata_option_built_at_import_on_steps_and_pipeline_is_one_warning(tmp_path: Path):
    source = INERT_EVERYWHERE.replace(
        ', docker="python:3.12"', ', name=os.getenv("N", "s")'
    ).replace(", execution_queue=Q", "")
    source = source.replace('    name="p",\n', '    name=os.getenv("P", "p"),\n')
    code, stderr = _check(tmp_path, source)
    assert code == 0, stderr
    named = [line for line in stderr.splitlines() if "option `name`" in line]
    assert named == [
        "pipeline.py:6:56: warning[PC103]: option `name` is computed when the file is imported; "
        'pipec keeps its source text `os.getenv("N", "s")` and never runs it '
        "(also at lines 11, 16, 21 and 2 more)"
    ]
