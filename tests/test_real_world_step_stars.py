"""Issue 10, item 9: names steps and their helpers read, in a file with star imports.

A project module's star binds what it exports, a standard-library module's what Python says it
does; any other name is still an undefined name at its line. An installed or missing module
could bind anything: such names build, and pipec says it took them on trust.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential
from golden_build import build_file

from pipec.compiler.requirements import StaticEnvironment

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from math import *

from helpers import *

from pipec import PipelineDecorator


def spread(x):
    return sqrt(x) * SCALE + pi


@PipelineDecorator.component(return_values=["v"])
def measure(x):
    return spread(x)


@PipelineDecorator.component(return_values=["label"])
def label(v):
    return describe(floor(v))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: float = 16.0):
    return label(measure(x))
"""

HELPERS = """
__all__ = ["SCALE", "describe"]

SCALE = 2


def describe(value):
    return f"value {value}"


def hidden():
    return 0
"""


def _differential(tmp_path: Path, source: str) -> Differential:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "helpers.py").write_text(HELPERS, encoding="utf-8")
    return Differential(tmp_path, source)


def test_steps_read_names_of_local_and_standard_star_imports(tmp_path: Path):
    run = _differential(tmp_path, STEPS)
    assert run.refusal is None, run.refusal
    run.same()
    run.same(x=2.25)
    script = (run.build_dir / "steps" / "measure.py").read_text()
    assert "from math import *" in script and "from helpers import *" in script


def test_a_name_no_star_import_exports_is_undefined_with_a_suggestion(tmp_path: Path):
    source = STEPS.replace("sqrt(x) * SCALE", "sqroot(x) * SCALES").replace(
        "describe(floor(v))", "describe(floor(v)) + hidden()"
    )
    run = _differential(tmp_path, source)
    assert run.refused_codes == ["PC603", "PC603", "PC615"]
    found = [(d.location.line, d.message) for d in run.refusal.diagnostics]
    assert found == [
        (9, "name `sqroot` is not defined; did you mean `sqrt`?"),  # math's real names
        (9, "name `SCALES` is not defined; did you mean `SCALE`?"),  # helpers' __all__
        # public, but not in __all__: the cause and its fix are named
        (
            19,
            "name `hidden` is not defined: `helpers` defines it, but its `__all__` leaves it "
            "out, so `from helpers import *` does not bind it",
        ),
    ]
    assert run.refusal.diagnostics[2].hint == (
        "add `hidden` to `__all__` in helpers, or import it by name (`from helpers import hidden`)"
    )
    # Plain Python agrees: the step stops with NameError.
    assert "NameError: name 'sqroot' is not defined" in run.plain().error


INSTALLED = """
from jinja2 import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["text"])
def render(name):
    return Template("hello {{ name }}").render(name=name)


@PipelineDecorator.component(return_values=["safe"])
def escape_it(text):
    return Environment(autoescape=True).from_string("{{ t }}!").render(t=text + "<b>")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(name: str = "world"):
    return escape_it(render(name))
"""


def test_an_installed_star_import_is_trusted_with_one_warning(tmp_path: Path):
    pytest.importorskip("jinja2")
    file = tmp_path / "pipeline.py"
    file.write_text(INSTALLED.lstrip(), encoding="utf-8")
    installed = StaticEnvironment({"jinja2": {"Jinja2": ("3.1.4", ("jinja2",))}})
    built = build_file(file, "pipeline.py", installed)
    warnings = [(d.code, d.location.line, d.message) for d in built.diagnostics]
    # `Template` and `Environment`, read by two steps: one warning, at the first.
    (trusted,) = [w for w in warnings if w[0].startswith("PC6")]
    assert trusted[:2] == ("PC614", 8)
    assert "taken without checking to come from `from jinja2 import *`" in trusted[2]
    assert trusted[2].endswith(": `Template`, `Environment`")
    # It builds, and runs as plain Python does (jinja2 is pipec's own dependency).
    Differential(tmp_path / "run", INSTALLED).same(name="<i>")


def test_a_name_only_a_missing_module_could_bind_builds_with_a_warning_per_name(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(
        STEPS.lstrip()
        .replace("helpers import", "missing_helpers import")
        .replace("return spread(x)", "return spread(x) + SCALE"),
        encoding="utf-8",
    )
    built = build_file(file, "pipeline.py", StaticEnvironment({}))
    warnings = [(d.code, d.location.line) for d in built.diagnostics if d.code.startswith("PC6")]
    # `SCALE` is read by the step and by its helper (line 9): one warning, at the step's read.
    assert warnings == [("PC609", 14), ("PC609", 19)]
    assert all("missing_helpers" in d.message for d in built.diagnostics if d.code == "PC609")


def test_glue_reads_the_real_names_of_a_standard_star_import_too(tmp_path: Path):
    source = STEPS.replace(
        "return label(measure(x))", "print(sqroot(x))\n    return label(measure(x))"
    )
    run = _differential(tmp_path, source)
    assert run.refused_codes == ["PC610"]
    assert "did you mean `sqrt`?" in run.refusal.diagnostics[0].message


def test_a_file_that_shadows_a_standard_module_from_the_working_folder_is_never_run(
    tmp_path: Path,
):
    # `python -m` puts the working folder first on sys.path: a `statistics.py` there, not part of
    # the pipeline's project, must not be imported to read what `from statistics import *` binds.
    import subprocess
    import sys

    marker = tmp_path / "ran"
    (tmp_path / "statistics.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef mean(xs):\n    return 0\n", encoding="utf-8"
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.py").write_text(
        "from statistics import *\n"
        "from pipec import PipelineDecorator\n\n\n"
        '@PipelineDecorator.component(return_values=["v"])\n'
        "def average(xs):\n    return mean(xs)\n\n\n"
        '@PipelineDecorator.pipeline(name="p", project="t", version="1")\n'
        "def controller():\n    return average([1, 2, 3])\n",
        encoding="utf-8",
    )
    built = subprocess.run(
        [sys.executable, "-m", "pipec.compiler.cli", "build", "project/pipeline.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert not marker.exists()
    assert "PC614" in built.stderr  # taken on trust, as an installed module would be
