"""ClearML calls in the file's top-level code (issue 10): `Task.set_credentials(...)` above the
steps. Python runs it once, at import; a build runs it in each script that carries the statement,
or in none. The warning says which, and `clearml` is a requirement of those scripts only."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import NOTHING_INSTALLED, run_pipec
from golden_build import build_file

from pipec.compiler.build import BuildResult

LEFT_OUT = """
from clearml import PipelineDecorator, Task

Task.set_credentials(api_host="http://127.0.0.1:8008", key="k", secret="s")


@PipelineDecorator.component(return_values=["a"])
def prepare(x):
    return x + 1


@PipelineDecorator.component(return_values=["b"])
def train(a):
    return a * 2


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    return train(prepare(x))
"""

# The logger line reads `Task`, whose class state the credentials line changes: a script that
# carries the one carries the other, in the file's order.
CARRIED = LEFT_OUT.replace(
    'secret="s")\n',
    'secret="s")\nLOGGER = Task.current_task().get_logger()\n',
).replace("    return x + 1", '    LOGGER.report_text("prepared")\n    return x + 1')


def _write(tmp_path: Path, text: str) -> Path:
    source = tmp_path / "pipeline.py"
    source.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return source


def _build(source: Path) -> BuildResult:
    return build_file(source, source.name, NOTHING_INSTALLED)


def test_a_module_level_call_no_script_carries_says_it_is_left_out(tmp_path: Path):
    source = _write(tmp_path, LEFT_OUT)
    done = run_pipec("check", source.name, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr == (
        "pipeline.py:3:1: warning[PC029]: `Task.set_credentials(...)` is module-level code that "
        "talks to a ClearML server: Python runs it once, when the file is imported, but it binds "
        "nothing a step or the controller reads, so no script of the build runs it\n"
        '    Task.set_credentials(api_host="http://127.0.0.1:8008", key="k", secret="s")\n'
        "    ^\n"
        "  hint: a step that needs it (credentials, a task) must make the call itself, and needs "
        "clearml installed and configured where it runs; in the controller's body it runs once, "
        "in the controller's code\n"
    )
    result = _build(source)
    assert all(n.requirements == () for n in result.manifest.nodes)
    assert not any(b"set_credentials" in content for content in result.files.values())
    # Nothing runs it, so --strict-clearml has no server call to refuse.
    assert run_pipec("check", source.name, "--strict-clearml", cwd=tmp_path).returncode == 0


def test_a_carried_module_level_call_names_the_scripts_that_run_it(tmp_path: Path):
    source = _write(tmp_path, CARRIED)
    done = run_pipec("check", source.name, cwd=tmp_path)
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "warning[PC015]" in line]
    assert warnings == [
        "pipeline.py:3:1: warning[PC015]: `Task.set_credentials(...)` talks to a ClearML server; "
        "it is module-level code, run again by each script that carries it: step `prepare`",
        "pipeline.py:4:10: warning[PC015]: `Task.current_task(...)` talks to a ClearML server; "
        "it is module-level code, run again by each script that carries it: step `prepare`",
    ]
    assert (
        "  hint: the script that runs it needs clearml installed and configured (clearml.conf) "
        "where it runs; in the controller's body instead it runs once, in the controller's code; "
        "`pipec build --strict-clearml` refuses such calls"
    ) in done.stderr.splitlines()
    result = _build(source)
    requirements = {n.name: n.requirements for n in result.manifest.nodes}
    assert requirements == {"prepare": ("clearml",), "train": ()}
    assert b"Task.set_credentials(" in result.files["steps/prepare.py"]
    assert b"Task" not in result.files["steps/train.py"]


def test_strict_clearml_refuses_a_carried_module_level_call(tmp_path: Path):
    source = _write(tmp_path, CARRIED)
    done = run_pipec("check", source.name, "--strict-clearml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("error[PC016]") == 2
    assert (
        "pipeline.py:3:1: error[PC016]: `Task.set_credentials(...)` talks to a ClearML server; "
        "it is module-level code, run again by each script that carries it: step `prepare`, and "
        "--strict-clearml refuses it"
    ) in done.stderr.splitlines()
