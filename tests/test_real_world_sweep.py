"""Issue 10, the real-world sweep: shapes found in public ClearML pipelines that pipec refused or
built wrongly, each rebuilt here in a small program of its own and compared with plain Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from differential import PIPEC, Differential
from golden_build import build_file

from pipec.compiler.requirements import StaticEnvironment

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


def _undefined_names(build_dir: Path) -> str:
    """What ruff says of undefined or redefined names in the build's scripts ("" when none)."""
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    scripts = sorted(map(str, (build_dir / "steps").glob("*.py")))
    checked = subprocess.run(
        [*command, "check", "--isolated", "--no-cache", "--select", "F821,F811", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    return "" if checked.returncode == 0 else checked.stdout


# ---- a change in place after the other name is last read cannot be told apart ----------------

SHARED = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    base = [n]
    holder = {"b": base}
    v = one(n)
    print("holder", holder)
    base.append(v)
    print("base", base)
    return base
"""


def test_a_change_after_the_other_name_is_last_read_builds_and_runs_as_python(tmp_path: Path):
    run = Differential(tmp_path, SHARED)
    plain, _ = run.same()
    assert plain.stdout.splitlines() == ["holder {'b': [2]}", "base [2, 3]"]


def test_a_change_the_other_name_is_read_after_is_still_refused(tmp_path: Path):
    source = SHARED.replace('print("base", base)', 'print("holder", holder)')
    run = Differential(tmp_path, source)
    assert run.refused_codes == ["PC611"]


def test_a_change_inside_a_loop_that_reads_the_other_name_earlier_is_still_refused(
    tmp_path: Path,
):
    source = SHARED.replace(
        """    print("holder", holder)
    base.append(v)
""",
        """    for _ in range(2):
        print("holder", holder)
        base.append(v)
""",
    )
    run = Differential(tmp_path, source)
    assert run.refused_codes == ["PC611"]


# ---- a plain function that starts the pipeline is not carried into the build -----------------

LAUNCHER = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def scale(x):
    return x * 3


def describe(v):
    return f"value {v}"


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 2):
    v = scale(x)
    print(describe(v))
    return v


def start(x=2, local=True):
    if local:
        PipelineDecorator.run_locally()
    return controller(x=x)


def cli():
    return start(x=5)


if __name__ == "__main__":
    cli()
"""


def test_a_function_that_starts_the_pipeline_leaves_no_undefined_name(tmp_path: Path):
    run = Differential(tmp_path, LAUNCHER)
    plain, _ = run.same()
    assert plain.stdout == "value 6\n"
    home = (run.build_dir / "steps" / "_pipec_pipeline.py").read_text()
    assert "def describe(" in home and "def start(" not in home and "def cli(" not in home
    assert _undefined_names(run.build_dir) == ""


# ---- module-level code after the `__main__` block runs after the pipeline, not in its steps ---

AFTER_MAIN = """
from pipec import PipelineDecorator

SEEN = []


@PipelineDecorator.component(return_values=["v"])
def count(n):
    return n + len(SEEN)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    v = count(n)
    print("counted", v)
    return v


if __name__ == "__main__":
    controller()

marker = "after"
SEEN.append(marker)
print("the pipeline has returned")
"""


def test_code_after_the_main_block_stays_out_of_the_steps_with_a_warning(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(AFTER_MAIN, encoding="utf-8")
    # `python pipeline.py` runs the pipeline before SEEN changes: the step counts none of it.
    python = subprocess.run(
        [sys.executable, str(file)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert python.stdout.splitlines() == ["counted 1", "the pipeline has returned"]
    run = Differential(tmp_path / "case", AFTER_MAIN)
    assert run.compiled().stdout == "counted 1\n"
    scripts = "".join(p.read_text() for p in (run.build_dir / "steps").glob("*.py"))
    assert "SEEN.append" not in scripts
    built = build_file(file, "pipeline.py", StaticEnvironment({}))
    warnings = [(d.code, d.location.line) for d in built.diagnostics if d.code == "PC024"]
    assert warnings == [("PC024", 22)]  # `marker = "after"`


# ---- `shared` and `data` are the project's own modules, not PyPI packages --------------------

SHARED_MODULES = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def read(x):
    from shared.config import NAME
    import data

    return NAME, data, x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 1):
    return read(x)
"""


def test_shared_and_data_not_found_locally_are_reported_not_required(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(SHARED_MODULES, encoding="utf-8")
    built = build_file(file, "pipeline.py", StaticEnvironment({}))
    written = b"".join(v for k, v in built.files.items() if k.startswith("requirements/"))
    assert b"shared" not in written and b"data" not in written
    reported = sorted(d.message.split("`")[1] for d in built.diagnostics if d.code == "PC118")
    assert reported == ["data", "shared"]


# ---- an option named as PipelineController names it: ClearML's decorator raises TypeError ----

CONTROLLER_NAMES = """
from pipec import PipelineDecorator


@PipelineDecorator.component(function_return=["v"])
def one(x):
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1", queue="default")
def controller(x: int = 1):
    return one(x)
"""


def test_options_named_as_pipeline_controller_names_them_are_refused_with_the_right_name(
    tmp_path: Path,
):
    run = Differential(tmp_path, CONTROLLER_NAMES)
    assert run.refused_codes == ["PC116", "PC116"]
    assert run.refusal is not None
    messages = sorted(d.message for d in run.refusal.diagnostics)
    assert messages == [
        "@PipelineDecorator.component has no option `function_return`; "
        "did you mean `return_values`?",
        "@PipelineDecorator.pipeline has no option `queue`; did you mean `default_queue`?",
    ]


# ---- a step that only uses what an earlier step made still needs its packages to unpickle -----

UNPICKLING = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["table"])
def load(n):
    import fractions

    import tabulate

    return tabulate, fractions.Fraction(n, 3)


@PipelineDecorator.component(return_values=["size"])
def measure(table):
    return len(str(table))


@PipelineDecorator.component(return_values=["size"], packages=["declared==1.0"])
def measure_declared(table):
    return len(str(table))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    table = load(n)
    return measure(table), measure_declared(table)
"""


def test_a_step_needs_the_packages_of_the_steps_whose_outputs_it_loads(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(UNPICKLING, encoding="utf-8")
    environment = StaticEnvironment({"tabulate": {"tabulate": ("0.9.0", ("tabulate",))}})
    built = build_file(file, "pipeline.py", environment)

    def requirements(stem: str) -> list[str]:
        text = built.files[f"requirements/{stem}.txt"].decode()
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    assert requirements("load") == ["tabulate==0.9.0"]
    assert requirements("measure") == ["tabulate==0.9.0"]
    assert requirements("measure_declared") == ["declared==1.0"]  # declared: kept as written


# ---- a default built from `__file__` folds with the built path, or says why not ---------------

FILE_DEFAULT = """
from pathlib import Path

from pipec import PipelineDecorator

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT / "config.yaml"
CACHE = ROOT.expanduser() / "cache"


@PipelineDecorator.component(return_values=["v"])
def read(path):
    return path


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(config: str = str(CONFIG), retries: int = 2):
    return read(config)
"""


def test_a_default_built_from_file_is_the_path_where_the_file_was_built(tmp_path: Path):
    run = Differential(tmp_path, FILE_DEFAULT)
    plain, _ = run.same()
    assert plain.result == str(tmp_path / "config.yaml")


def test_a_default_built_from_file_through_an_unfolded_call_names_that_as_the_cause(
    tmp_path: Path,
):
    run = Differential(tmp_path, FILE_DEFAULT.replace("str(CONFIG)", "str(CACHE)"))
    assert run.refusal is not None
    (diagnostic,) = [d for d in run.refusal.diagnostics if d.code == "PC155"]
    assert diagnostic.location.line == 16  # the `def controller(...)` line
    assert diagnostic.message == (
        "the default of pipeline parameter `config` is not known at compile time: it is built "
        "from `__file__` through an operation pipec does not fold (it folds path arithmetic: "
        "`Path(__file__).parent / 'x'`, `os.path.join(...)`, `str(...)`)"
    )
