"""`__file__` means the pipeline file, where it was built, in every script pipec writes (issues 9
and 10): module constants built from it, step bodies, glue, local modules reading their own, and
pipeline parameter defaults folded with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from differential import PIPEC, Differential
from golden_build import build_file

from pipec.compiler.diagnostics import UserError
from pipec.compiler.requirements import StaticEnvironment

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


def _codes(run: Differential) -> list[str]:
    return [d.code for d in run.diagnostics]


BESIDE = """
import os
from pathlib import Path

from pipec import PipelineDecorator

PROJECT_ROOT = Path(__file__).resolve().parent
DATA = os.path.join(os.path.dirname(__file__), "data.csv")


def where(name):
    return str(PROJECT_ROOT / name)


@PipelineDecorator.component(return_values=["rows"])
def load():
    with open(DATA, encoding="utf-8") as handle:
        return [line.split(",") for line in handle.read().split()]


@PipelineDecorator.component(return_values=["report"])
def describe(rows):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(where("out.txt"), "w", encoding="utf-8") as handle:
        handle.write(str(len(rows)))
    return f"{len(rows)} rows from {os.path.basename(DATA)} in {here == str(PROJECT_ROOT)}"


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    rows = load()
    print(rows, Path(__file__).name, os.path.isfile(__file__), where("x"))
    return describe(rows)
"""


def test_steps_helpers_and_glue_read_the_pipeline_file_path(tmp_path: Path):
    (tmp_path / "data.csv").write_text("a,1\nb,2\n", encoding="utf-8")
    run = Differential(tmp_path, BESIDE)
    plain, compiled = run.same()
    assert plain.result == "2 rows from data.csv in True"
    assert (tmp_path / "out.txt").read_text(
        encoding="utf-8"
    ) == "2"  # beside the file, not the build
    assert not list(run.build_dir.rglob("out.txt"))
    script = (run.build_dir / "steps" / "describe.py").read_text(encoding="utf-8")
    user_part = script.split("# pipec's step runner")[0]
    assert f"_PIPELINE_FILE = {str(run.file)!r}" in user_part
    assert "__file__" not in user_part.split("where it was built\n", 1)[1]


def test_an_if_test_of_the_controller_reads_the_pipeline_folder(tmp_path: Path):
    (tmp_path / "flag").write_text("", encoding="utf-8")
    run = Differential(
        tmp_path,
        """
import os

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def mark(x):
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(name: str = "flag"):
    if os.path.exists(os.path.join(os.path.dirname(__file__), name)):
        return mark("beside")
    return mark("elsewhere")
""",
    )
    assert run.same()[0].result == "beside"
    assert run.same(name="nothing")[0].result == "elsewhere"


def test_pinned_scripts_stay_tidy_for_ruff(tmp_path: Path):
    (tmp_path / "data.csv").write_text("a,1\n", encoding="utf-8")
    run = Differential(tmp_path, BESIDE)
    scripts = sorted(str(p) for p in (run.build_dir / "steps").glob("*.py"))
    assert any(p.endswith("_pipec_pipeline.py") for p in scripts)
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--isolated", "--no-cache", "--select", "F", *scripts],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout


def test_one_warning_at_the_first_read_says_the_path_is_the_build_hosts(tmp_path: Path):
    (tmp_path / "data.csv").write_text("a,1\n", encoding="utf-8")
    run = Differential(tmp_path, BESIDE)
    warnings = [d for d in run.diagnostics if d.code == "PC150"]
    assert len(warnings) == 1
    assert (warnings[0].location.line, warnings[0].location.column) == (6, 21)
    assert "--param" in warnings[0].hint


def test_a_build_that_never_reads_file_has_no_constant_and_no_warning(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import json

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def name():
    return json.__file__.endswith("__init__.py")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    return name()
""",
    )
    assert "PC150" not in _codes(run)
    assert "_PIPELINE_FILE" not in (run.build_dir / "steps" / "name.py").read_text()
    run.same()


def test_a_name_the_user_already_has_is_not_taken(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import os

from pipec import PipelineDecorator

_PIPELINE_FILE = "mine"
HERE = os.path.dirname(__file__)


@PipelineDecorator.component(return_values=["v"])
def both():
    return _PIPELINE_FILE, HERE, os.path.basename(__file__)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    return both()
""",
    )
    plain, _ = run.same()
    assert plain.result == ("mine", str(tmp_path), "pipeline.py")
    assert "_PIPELINE_FILE_2 = " in (run.build_dir / "steps" / "both.py").read_text()


def test_a_local_module_reads_its_own_path(tmp_path: Path):
    (tmp_path / "helpers.py").write_text(
        '"""Helpers beside the pipeline."""\n'
        "from __future__ import annotations\n\n"
        "import os\n\n"
        "HERE = os.path.dirname(os.path.abspath(__file__))\n\n\n"
        "def settings():\n"
        '    with open(os.path.join(HERE, "settings.txt"), encoding="utf-8") as handle:\n'
        "        return handle.read().strip(), os.path.basename(__file__)\n",
        encoding="utf-8",
    )
    (tmp_path / "settings.txt").write_text("depth=3\n", encoding="utf-8")
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def configure():
    import helpers

    return helpers.settings()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    return configure()
""",
    )
    plain, _ = run.same()
    assert plain.result == ("depth=3", "helpers.py")
    copy = (run.build_dir / "steps" / "helpers.py").read_text(encoding="utf-8")
    assert f"_MODULE_FILE = {str(tmp_path / 'helpers.py')!r}" in copy
    assert copy.startswith(
        '"""Helpers beside the pipeline."""\nfrom __future__ import annotations\n'
    )
    warning = next(d for d in run.diagnostics if d.code == "PC150")
    assert (warning.location.path, warning.location.line) == ("helpers.py", 6)


DEFAULTS = """
import os
from pathlib import Path

from pipec import PipelineDecorator

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT / "config.yaml"


@PipelineDecorator.component(return_values=["v"])
def read(config, data, runs, name, retries):
    paths = [config, data, runs, name, retries]
    return [os.path.relpath(p, ROOT) if isinstance(p, str) and os.path.isabs(p) else p for p in paths]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(
    config: str = str(CONFIG),
    data: str = os.path.join(os.path.dirname(__file__), "data", "x.csv"),
    runs: str = f"{ROOT.parent}/runs",
    name: str = Path(__file__).stem + ".log",
    retries: int = 2,
):
    return read(config, data, runs, name, retries)
"""


def test_defaults_built_from_file_fold_to_the_plain_value(tmp_path: Path):
    run = Differential(tmp_path, DEFAULTS)
    plain, _ = run.same()
    assert plain.result == ["config.yaml", "data/x.csv", "../runs", "pipeline.log", 2]
    manifest = json.loads((run.build_dir / "manifest.json").read_text(encoding="utf-8"))
    defaults = {p["name"]: p["default"]["value"] for p in manifest["parameters"]}
    assert defaults["config"] == str(tmp_path / "config.yaml")
    assert "PC150" in _codes(run)
    run.same(config="elsewhere.yaml")  # the override the warning names


def test_resolve_through_a_symlinked_folder_gives_the_real_path(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    os.symlink(real, link)
    run = Differential(
        link,
        """
from pathlib import Path

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def echo(a, b, c):
    return a, b, c


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(
    real: str = str(Path(__file__).resolve().parent),
    kept: str = str(Path(__file__).parent),
):
    return echo(real, kept, str(Path(__file__).parent.resolve()))
""",
    )
    plain, _ = run.same()
    assert plain.result == (str(real), str(link), str(real))


def test_a_default_resolved_below_a_symlink_is_refused_with_the_cause(tmp_path: Path):
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "link")
    run = Differential(
        tmp_path / "link",
        """
from pathlib import Path

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def echo(v):
    return v


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(folder: str = str(Path(__file__).parent.resolve())):
    return echo(folder)
""",
    )
    assert "PC155" in run.refused_codes
    assert run.refusal is not None
    error = next(d for d in run.refusal.diagnostics if d.code == "PC155")
    assert "through an operation pipec does not fold" in error.message


def test_a_default_that_would_be_a_path_object_is_refused_with_the_str_fix(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
from pathlib import Path

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def echo(v):
    return v


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(folder: Path = Path(__file__).parent):
    return echo(folder)
""",
    )
    assert sorted(run.refused_codes) == ["PC150", "PC199"]
    assert isinstance(run.refusal, UserError)
    error = next(d for d in run.refusal.diagnostics if d.code == "PC199")
    assert (error.location.line, error.location.column) == (12, 31)
    assert error.hint.startswith(
        "wrap it in `str(...)`: `folder: str = str(Path(__file__).parent)`"
    )


@pytest.mark.parametrize(
    "expression",
    [
        'str(Path(__file__).parents[1] / "data")',
        'os.path.splitext(os.path.basename(__file__))[0] + "-out"',
        'str(Path(__file__).with_suffix(".yaml"))',
        'str(Path(__file__).parent.joinpath("a", "b"))',
        'f"{Path(__file__).parent}/logs/{Path(__file__).stem}.txt"',
        'os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "x"))',
        "os.fspath(Path(__file__).absolute().with_name('cfg.toml'))",
        'os.path.realpath(__file__) + "!"',
        '[str(HERE / name) for name in ("a",)][0] if False else str(HERE / "b")',
    ],
)
def test_a_folded_default_is_the_value_python_computes(tmp_path: Path, expression: str):
    folds = "for name in" not in expression  # a comprehension is left to the run: refused
    source = f"""
import os
from pathlib import Path

from pipec import PipelineDecorator

HERE = Path(__file__).parent


@PipelineDecorator.component(return_values=["v"])
def echo(v):
    return v


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(value=({expression})):
    return echo(value)
"""
    file = tmp_path / "pipeline.py"
    file.write_text(source, encoding="utf-8")
    expected = eval(  # the reference: Python itself, with `__file__` the built file's path
        expression, {"__file__": str(file), "Path": Path, "os": os, "HERE": file.parent}
    )
    try:
        built = build_file(file, "pipeline.py", StaticEnvironment({}))
    except UserError as error:  # not folded: said at the default, never a different value
        assert not folds, error
        assert [d.code for d in error.diagnostics if d.is_error] == ["PC155"]
        return
    assert folds
    (parameter,) = built.manifest.parameters
    assert parameter.default is not None and parameter.default.value == expected


def test_a_path_passed_to_the_pipeline_under_main_is_that_value(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import os

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def echo(v):
    return v


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(config: str = "default.yaml"):
    return echo(config)


if __name__ == "__main__":
    controller(config=os.path.join(os.path.dirname(__file__), "given.yaml"))
""",
    )
    assert "PC161" not in _codes(run) and "PC150" in _codes(run)
    manifest = json.loads((run.build_dir / "manifest.json").read_text(encoding="utf-8"))
    (parameter,) = manifest["parameters"]
    assert parameter["default"]["value"] == str(tmp_path / "given.yaml")


def test_without_libcst_the_tokenizer_pins_a_local_module_after_its_header():
    # The path a local module takes when its syntax is newer than libcst knows.
    from pipec.compiler.file_reads import _pin_tokens, _with_line_after_header

    code = (
        '"""Doc."""\nfrom __future__ import annotations\nimport os\nX = (os.__file__, __file__)\n'
    )
    pinned, first = _pin_tokens(code, "_MODULE_FILE")
    assert first == (4, 18)  # line, 0-based column
    assert _with_line_after_header(pinned, "_MODULE_FILE = '/p/m.py'") == (
        '"""Doc."""\nfrom __future__ import annotations\n'
        "_MODULE_FILE = '/p/m.py'\nimport os\nX = (os.__file__, _MODULE_FILE)\n"
    )
