"""Issue 10: a pipeline defined inside the function that the `__main__` block calls.

`def main():` parses options, defines the pipeline (whose body reads them through its closure),
calls it and goes on; `python pipeline.py` runs all of it once. The compiled run must print and
fail as that program does; the shapes whose answer would differ are refused at their line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
import argparse
import os

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["table"])
def load(source: str, rows: int):
    return {"source": source, "rows": list(range(rows))}


@PipelineDecorator.component(return_values=["model"])
def fit(table: dict, penalty: float = 1.0):
    return {"seen": len(table["rows"]), "penalty": penalty, "from": table["source"]}


@PipelineDecorator.component(return_values=["report"])
def judge(model: dict, table: dict):
    if model["penalty"] < 0:
        raise ValueError(f"a negative penalty: {model['penalty']}")
    return f"{model['from']}: {model['seen']} rows at {model['penalty']}"
"""

MAIN = """

def main():
    parser = argparse.ArgumentParser(description="fit and judge")
    parser.add_argument("--source", default=os.environ.get("DEMO_SOURCE", "warehouse"))
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--penalty", type=float, default=float(os.environ.get("DEMO_PENALTY", "0.5")))
    args = parser.parse_args()
    label = f"{args.source}/{args.rows}"
    print("options:", label)

    @PipelineDecorator.pipeline(
        name=args.source,
        project="demo",  # a comment inside the options
        version="1.0",
    )
    def fit_and_judge():
        table = load(args.source, args.rows)
        model = fit(table, penalty=args.penalty)
        report = judge(model, table)
        print("report:", report, "for", label)

    fit_and_judge()
    print("after the pipeline:", label.upper())


if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="module")
def enclosed(tmp_path_factory: pytest.TempPathFactory) -> Differential:
    return Differential(tmp_path_factory.mktemp("enclosed"), STEPS + MAIN)


def _same_program(run: Differential) -> str:
    plain, compiled = run.as_program(), run.compiled()
    assert compiled.exit_code == plain.exit_code, compiled.stderr
    assert compiled.stdout == plain.stdout, compiled.stderr
    if not plain.ok:
        assert plain.error in compiled.error, (plain.error, compiled.stderr)
    return plain.stdout


def test_options_read_their_defaults_and_the_body_reads_them_through_its_closure(
    enclosed: Differential,
):
    printed = _same_program(enclosed)
    assert printed.splitlines() == [
        "options: warehouse/4",
        "report: warehouse: 4 rows at 0.5 for warehouse/4",
        "after the pipeline: WAREHOUSE/4",
    ]


def test_defaults_from_the_environment_reach_the_compiled_run(enclosed: Differential):
    enclosed.environment = {"DEMO_SOURCE": "lake"}
    try:
        assert "report: lake: 4 rows at 0.5 for lake/4" in _same_program(enclosed)
    finally:
        enclosed.environment = {}


def test_a_failing_step_fails_the_program_as_in_python(enclosed: Differential):
    enclosed.environment = {"DEMO_PENALTY": "-1"}
    try:
        _same_program(enclosed)
        assert "ValueError: a negative penalty: -1.0" in enclosed.compiled().stderr
    finally:
        enclosed.environment = {}


def test_each_glue_script_names_the_line_its_code_came_from(enclosed: Differential):
    lines = enclosed.file.read_text(encoding="utf-8").splitlines()
    scripts = sorted((enclosed.build_dir / "steps").glob("glue_*.py"))
    assert len(scripts) >= 3  # main's code before the pipeline, the body's print, and after
    for script in scripts:
        text = script.read_text(encoding="utf-8").splitlines()
        number = int(text[0].split("pipeline.py:")[1].split(" ")[0])
        shown = text[4].strip()  # the docstring's first line of the code the script runs
        assert shown and shown in lines[number - 1], (script.name, number, shown)


def test_the_option_warning_is_at_the_decorators_own_line(tmp_path: Path):
    from golden_build import build_file

    from pipec.compiler.requirements import StaticEnvironment

    file = tmp_path / "pipeline.py"
    file.write_text(STEPS.lstrip() + MAIN, encoding="utf-8")
    built = build_file(file, "pipeline.py", StaticEnvironment({}))
    lines = file.read_text(encoding="utf-8").splitlines()
    (warning,) = [d for d in built.diagnostics if d.code == "PC103"]
    assert lines[warning.location.line - 1][warning.location.column - 1 :].startswith(
        "args.source,"
    )


def test_a_docstring_a_parameter_default_and_a_one_line_main_block(tmp_path: Path):
    run = Differential(
        tmp_path,
        '''
import os

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["out"])
def double(x: int):
    return x * 2


def main():
    """Runs the pipeline once."""
    base = int(os.environ.get("DEMO_BASE", "3"))

    @PipelineDecorator.pipeline(name="p", project="t", version="1")
    def doubled(extra: int = 1):
        text = """kept
as written"""
        print(double(base + extra), text)

    doubled()


if __name__ == "__main__": main()
''',
    )
    assert _same_program(run) == "8 kept\nas written\n"
