"""Pipelines as ClearML users write them (issue 10): each builds and runs as plain Python does, or
is refused at its line with the true cause."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import NOTHING_INSTALLED, run_eagerly, run_pipec
from golden_build import build_file, write_tree

from pipec.compiler.build import BuildResult
from pipec.compiler.diagnostics import UserError
from pipec.compiler.requirements import StaticEnvironment


def _write(tmp_path: Path, text: str, name: str = "pipeline.py") -> Path:
    source = tmp_path / "project" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return source


def _build(source: Path, **options: Any) -> BuildResult:
    environment = options.pop("environment", NOTHING_INSTALLED)
    return build_file(source, f"project/{source.name}", environment, **options)


def _codes(result: BuildResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def _refusal(source: Path, **options: Any) -> list[tuple[str, int, str]]:
    """(code, line, message) of every diagnostic of a build that must fail."""
    with pytest.raises(UserError) as caught:
        _build(source, **options)
    return [(d.code, d.location.line, d.message) for d in caught.value.diagnostics]


def _run(result: BuildResult, tmp_path: Path, *params: str) -> tuple[str, Any]:
    """(stdout, result) of `pipec run` on the build."""
    folder = tmp_path / "build"
    write_tree(result.files, folder)
    runs = tmp_path / "runs"
    done = run_pipec(
        "run",
        folder,
        "--runs-dir",
        runs,
        "--cache-dir",
        tmp_path / "cache",
        *(f"--param={p}" for p in params),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    value = None
    if record.get("result"):
        value = pickle.loads((run_dir / record["result"]["path"]).read_bytes())
    return done.stdout, value


def _same_as_python(
    source: Path, tmp_path: Path, controller: str = "controller", **options: Any
) -> BuildResult:
    result = _build(source, **options)
    expected = run_eagerly(source, controller)
    assert _run(result, tmp_path) == (expected.stdout, expected.result)
    return result


# ---- 1. metadata options from any expression -------------------------------------------------

METADATA = """
import os
from datetime import datetime

from pipec import PipelineDecorator

PROJECT = "demo"
BASE = 20


class TaskTypes:
    training = "training"
    data_processing = "data_processing"


@PipelineDecorator.component(
    return_values=["doubled"],
    task_type=TaskTypes.training,
    name=os.getenv("STEP_NAME", "twice"),
    execution_queue=os.getenv("QUEUE", "cpu"),
)
def double(x):
    return x * 2


@PipelineDecorator.component(
    return_values=["total"], task_type=TaskTypes.data_processing, cache=BASE > 10
)
def add(a, b):
    return a + b


@PipelineDecorator.pipeline(
    name=f"{PROJECT}-pipeline",
    project=os.getenv("PROJECT", "examples"),
    version=datetime.now().strftime("%Y.%m"),
    default_queue=os.environ.get("QUEUE", "default"),
)
def controller(x: int = 3):
    d = double(x)
    t = add(d, BASE)
    print("total", t)
    return t
"""


def test_metadata_built_at_import_is_kept_as_source_with_one_warning_per_option(tmp_path):
    result = _same_as_python(_write(tmp_path, METADATA), tmp_path)
    kept = [d for d in result.diagnostics if d.code == "PC103"]
    assert sorted(d.message.split("`")[1] for d in kept) == [
        "default_queue",
        "execution_queue",
        "name",
        "project",
        "task_type",
        "version",
    ]
    assert all(d.severity.value == "warning" for d in result.diagnostics)
    pipeline = result.manifest.pipeline
    assert pipeline.name == "demo-pipeline"  # folded: an f-string of constants
    assert pipeline.options["version"] == {"source": 'datetime.now().strftime("%Y.%m")'}
    add = next(n for n in result.manifest.nodes if n.name == "add")
    assert add.cache is True  # `BASE > 10` folds


def test_dag_shaping_options_stay_strict(tmp_path):
    source = _write(
        tmp_path,
        """
        import os
        from pipec import PipelineDecorator

        @PipelineDecorator.component(return_values=os.getenv("OUTS"))
        def step(x):
            return x

        @PipelineDecorator.pipeline(name="p", project="p", version="1")
        def controller(x: int = 1):
            return step(x)
        """,
    )
    assert [(c, line) for c, line, _ in _refusal(source)] == [("PC101", 4)]


def test_an_option_typo_is_an_error_that_names_the_option(tmp_path):
    source = _write(
        tmp_path,
        """
        from pipec import PipelineDecorator

        @PipelineDecorator.component(return_value=["doubled"])
        def step(x):
            return x * 2

        @PipelineDecorator.pipeline(name="p", project="p", version="1")
        def controller(x: int = 1):
            return step(x)
        """,
    )
    ((code, line, message),) = _refusal(source)
    assert (code, line) == ("PC116", 3)
    assert "did you mean `return_values`" in message


# ---- 2. packages=False: the repository's requirements.txt ------------------------------------

REPOSITORY_STEP = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"], packages=False)
def count(x):
    import yaml  # noqa: F401 - the requirement is not detected from here

    return len(x)


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: str = "abc"):
    return count(x)
"""


def test_packages_false_reads_requirements_txt_at_the_project_root(tmp_path):
    root = tmp_path / "project"
    source = _write(tmp_path, REPOSITORY_STEP, name="pipelines/pipeline.py")
    (root / ".git").mkdir()
    (root / "requirements.txt").write_text("pandas>=2\n# a comment\nnumpy==2.0.0\n")
    result = _build(source)
    node = next(n for n in result.manifest.nodes if n.name == "count")
    assert node.requirements == ("pandas>=2", "numpy==2.0.0")
    assert "PC115" not in _codes(result)  # nothing detected, so nothing guessed

    (source.parent / "requirements.txt").write_text("polars\n")  # beside the pipeline wins
    node = next(n for n in _build(source).manifest.nodes if n.name == "count")
    assert node.requirements == ("polars",)


def test_packages_false_without_requirements_txt_warns_and_detects(tmp_path):
    result = _build(_write(tmp_path, REPOSITORY_STEP))
    assert "PC117" in _codes(result)
    node = next(n for n in result.manifest.nodes if n.name == "count")
    assert node.requirements == ("PyYAML",)


# ---- 11. requirement names: project modules are never mapped to PyPI packages ----------------

PROJECT_IMPORTS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def first(x):
    from src.scaling import scale
    import models

    return models.NAME + str(scale(x))


@PipelineDecorator.component(return_values=["y"])
def second(x):
    import utils
    import config

    return utils, config, x


@PipelineDecorator.component(return_values=["y"])
def third(x):
    import utils
    import config

    return utils, config, x


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 2):
    a = first(x)
    second(x)
    third(x)
    print(a)
    return a
"""


def test_project_modules_are_found_up_to_the_root_and_never_mapped(tmp_path):
    root = tmp_path / "project"
    source = _write(tmp_path, PROJECT_IMPORTS, name="pipelines/pipeline.py")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "src").mkdir()
    (root / "src" / "scaling.py").write_text("def scale(x):\n    return x * 10\n")  # namespace
    (root / "models").mkdir()
    (root / "models" / "__init__.py").write_text("NAME = 'm'\n")
    result = _build(source)
    assert "steps/src/scaling.py" in result.files
    assert "steps/models/__init__.py" in result.files
    every = b"".join(v for k, v in result.files.items() if k.startswith("requirements/"))
    assert b"auto_mix_prep" not in every and b"asposestorage" not in every
    assert b"utils" not in every and b"config" not in every
    project = [d for d in result.diagnostics if d.code == "PC118"]
    assert sorted(d.message.split("`")[1] for d in project) == ["config", "utils"]  # once each


NAMESPACE_LOOK_ALIKES = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def fit(x):
    import logging

    import lightning_lib as pl
    from lightning_lib.callbacks import Checkpoint
    import plotting

    logging.getLogger("fit").info("fitting")
    return pl, Checkpoint, plotting, x


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 2):
    return fit(x)
"""


def test_a_folder_without_init_is_not_the_package_python_imports_instead(tmp_path):
    # A repository often keeps example scripts in folders named after the library they show
    # (`lightning_lib/`, `logging/`), with no __init__.py: namespace packages, which Python
    # uses only when no regular package of that name is found. An installed library, a
    # standard-library module, or a submodule the folder lacks means the import is not the folder.
    root = tmp_path / "project"
    source = _write(tmp_path, NAMESPACE_LOOK_ALIKES, name="pipelines/pipeline.py")
    (root / ".git").mkdir()
    for folder in ("lightning_lib", "logging", "plotting"):
        (root / folder).mkdir()
        (root / folder / "example.py").write_text("print('an example script')\n")
    result = _build(source)
    copied = sorted(k for k in result.files if k.startswith("steps/") and "/" in k[6:])
    assert copied == ["steps/plotting/example.py"]  # a namespace folder nothing else provides
    requirements = result.files["requirements/fit.txt"].decode()
    assert "lightning_lib" in requirements and "plotting" not in requirements
    installed = StaticEnvironment({"plotting": {"plotting-dist": ("1.0", ("plotting",))}})
    result = _build(source, environment=installed)
    assert not any(k.startswith("steps/plotting/") for k in result.files)
    assert "plotting-dist==1.0" in result.files["requirements/fit.txt"].decode()


# ---- 4. controller signatures and defaults ---------------------------------------------------

SIGNATURES = """
from pipec import PipelineDecorator

BASE = 20
PARTS = ("a", "b")


@PipelineDecorator.component(return_values=["total"])
def add(a, b):
    return a + b


@PipelineDecorator.pipeline(name="signatures", project="p", version="1")
def controller(n, /, m=BASE * 2 + 1, *args, tag: str = "-".join(PARTS), url="none", **kwargs):
    total = add(n, m)
    print(tag, url, total)
    return total


if __name__ == "__main__":
    base_url = "https://example.com"
    url = f"{base_url}/data"
    count = 3
    controller(count, url=url)
"""


def _eager(source: Path, controller: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    import contextlib
    import io
    import runpy

    printed = io.StringIO()
    namespace = runpy.run_path(str(source))
    with contextlib.redirect_stdout(printed):
        result = namespace[controller](*args, **kwargs)
    return printed.getvalue(), result


def test_controller_signatures_and_defaults_as_python_reads_them(tmp_path):
    source = _write(tmp_path, SIGNATURES)
    result = _build(source)
    defaults = {p.name: p.default.value for p in result.manifest.parameters if p.default}
    assert defaults == {"n": 3, "m": 41, "tag": "a-b", "url": "https://example.com/data"}
    assert [d.code for d in result.diagnostics if d.is_error] == []
    assert _run(result, tmp_path) == _eager(source, "controller", 3, url="https://example.com/data")


def test_star_parameters_the_controller_reads_are_still_refused(tmp_path):
    source = _write(
        tmp_path,
        """
        from pipec import PipelineDecorator

        @PipelineDecorator.component(return_values=["y"])
        def step(x):
            return x

        @PipelineDecorator.pipeline(name="p", project="p", version="1")
        def controller(x: int = 1, **options):
            return step(options)
        """,
    )
    assert ("PC010", 8) in [(c, line) for c, line, _ in _refusal(source)]


def test_a_main_variable_reassigned_under_a_condition_is_not_a_default(tmp_path):
    source = _write(
        tmp_path,
        SIGNATURES.replace(
            "    count = 3\n", '    count = 3\n    if base_url:\n        url = "b"\n'
        ),
    )
    result = _build(source)
    assert "PC161" in _codes(result)  # `url` is not known: the function's default stays
    defaults = {p.name: p.default.value for p in result.manifest.parameters if p.default}
    assert defaults["url"] == "none"


# ---- 6. several pipelines, redefinitions -----------------------------------------------------

SEVERAL = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def step(x):
    return x + 1


@PipelineDecorator.component(return_values=["y"])
def step(x):
    return x * 100


@PipelineDecorator.pipeline(name="first", project="p", version="1")
def first(x: int = 1):
    return step(x)


@PipelineDecorator.pipeline(name="second", project="p", version="1")
def second(x: int = 2):
    print("second")
    return step(x)


if __name__ == "__main__":
    second(x=5)
"""


def test_the_pipeline_main_calls_is_built_and_the_last_definition_wins(tmp_path):
    source = _write(tmp_path, SEVERAL)
    result = _build(source)
    assert result.manifest.pipeline.name == "second"
    (redefined,) = [d for d in result.diagnostics if d.code == "PC014"]
    assert redefined.location.line == 10
    assert redefined.hint.startswith("the definitions at line 5 are never used")
    assert _run(result, tmp_path) == _eager(source, "second", x=5)
    assert _build(source, pipeline="first").manifest.pipeline.name == "first"


# ---- 8. calls that talk to a ClearML server --------------------------------------------------

SERVER_CALLS = """
from clearml import Logger, PipelineDecorator, Task


@PipelineDecorator.component(return_values=["y"])
def report(x):
    Logger.current_logger().report_scalar("x", "x", value=x, iteration=0)
    return x + 1


@PipelineDecorator.component(return_values=["z"])
def double(y):
    return y * 2


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    task = Task.current_task()
    task.connect({"x": x})
    y = report(x)
    z = double(y)
    print(y, z)
    return z
"""


def test_clearml_server_calls_are_warned_at_each_call_site(tmp_path):
    result = _build(_write(tmp_path, SERVER_CALLS))
    calls = [(d.location.line, d.message) for d in result.diagnostics if d.code == "PC015"]
    assert calls == [
        (6, "`Logger.current_logger(...)` talks to a ClearML server"),
        (17, "`Task.current_task(...)` talks to a ClearML server"),
    ]
    nodes = {n.name: n for n in result.manifest.nodes}
    assert nodes["report"].requirements == ("clearml",)
    assert nodes["double"].requirements == ()
    glue = [n for n in result.manifest.nodes if n.kind.value == "glue"]
    using = [n for n in glue if "Task" in result.files[n.script].decode()]
    assert using and all(n.requirements == ("clearml",) for n in using)
    assert all(n.requirements == () for n in glue if n not in using)  # only loads outputs


def test_strict_clearml_refuses_server_calls(tmp_path):
    source = _write(tmp_path, SERVER_CALLS)
    done = run_pipec("check", source, "--strict-clearml")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("error[PC016]") == 2
    assert run_pipec("check", source).returncode == 0


def test_server_calls_no_script_runs_are_not_reported(tmp_path):
    # The `__main__` block and what follows it run in no script: even --strict-clearml builds.
    tail = (
        '\n\nif __name__ == "__main__":\n    Task.init(project_name="p", task_name="t")\n'
        "    controller()\n\n"
        'Task.init(project_name="p", task_name="after")\n'
    )
    source = _write(tmp_path, SERVER_CALLS + tail)
    lines = [d.location.line for d in _build(source).diagnostics if d.code == "PC015"]
    assert lines == [6, 17]
    done = run_pipec("check", source, "--strict-clearml")
    assert done.stderr.count("error[PC016]") == 2, done.stderr


# ---- 9. mistakes inside step bodies ----------------------------------------------------------

STEP_MISTAKES = """
import random

from pipec import PipelineDecorator

SEED = random.randint(0, 1000)


def scale(values):
    return [v * factr for v in values]


@PipelineDecorator.component(return_values=["y"])
def step(values):
    return scale(values), SEED


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(values: list = [1, 2]):
    return step(values)
"""


def test_an_undefined_name_in_a_carried_helper_is_refused_at_its_line(tmp_path):
    diagnostics = _refusal(_write(tmp_path, STEP_MISTAKES))
    assert ("PC603", 9, "name `factr` is not defined") in diagnostics
    assert [c for c, _, _ in diagnostics if c.startswith("PC6")] == ["PC603"]


def test_a_module_value_computed_per_process_is_a_warning(tmp_path):
    result = _build(_write(tmp_path, STEP_MISTAKES.replace("factr", "2")))
    (warning,) = [d for d in result.diagnostics if d.code == "PC119"]
    assert warning.location.line == 5
    assert "random.randint" in warning.message


# ---- 5 (in part). a file with a coding cookie ------------------------------------------------

LATIN_1 = """# -*- coding: latin-1 -*-
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def step(x):
    return x + " gr\\xf6\\xdfe"


@PipelineDecorator.pipeline(name="latin", project="p", version="1")
def controller(x: str = "\\xe9t\\xe9"):
    y = step(x)
    print(y)
    return y
"""


def test_a_latin_1_file_builds_and_runs_as_python_reads_it(tmp_path):
    source = tmp_path / "pipeline.py"
    source.write_bytes(LATIN_1.encode("latin-1"))
    built = run_pipec("build", source, "-o", tmp_path / "build", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    runs = tmp_path / "runs"
    done = run_pipec(
        "run", tmp_path / "build", "--runs-dir", runs, "--cache-dir", tmp_path / "c", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    expected = run_eagerly(source, "controller")
    assert done.stdout == expected.stdout == "\xe9t\xe9 gr\xf6\xdfe\n"
