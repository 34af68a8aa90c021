"""A ClearML Task and its Logger kept in controller code across step calls (issue 10).

The `clearml` here is a stand-in the test writes into its folder: a Task that pickles by id and
comes back bound to the same task, as clearml's own does (`Task.__getstate__`/`__setstate__`),
and a Logger that refuses to pickle, like clearml's. Both keep their reports in a JSON file in
the test's folder, so the plain run and the compiled run can be compared report for report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from differential import Differential

STAND_IN = '''
"""A stand-in for clearml's Task and Logger, reporting into the JSON file $FAKE_CLEARML_STORE."""

import json
import os


def _read():
    try:
        with open(os.environ["FAKE_CLEARML_STORE"], encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {"tasks": {}}


def _write(data):
    path = os.environ["FAKE_CLEARML_STORE"]
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(path + ".tmp", path)


class Logger:
    def __init__(self, task_id):
        self._task_id = task_id

    def __reduce__(self):
        raise TypeError("cannot pickle 'Logger' object")  # clearml's holds a live reporter

    def _report(self, kind, **fields):
        data = _read()
        data["tasks"][self._task_id]["reports"].append({"kind": kind, **fields})
        _write(data)

    def report_text(self, msg):
        self._report("text", msg=msg)

    def report_single_value(self, name, value):
        self._report("single", name=name, value=value)

    def report_table(self, title, series, iteration, table_plot):
        self._report("table", title=title, series=series, table=repr(table_plot))

    @classmethod
    def current_logger(cls):
        task = Task.current_task()
        return None if task is None else task.get_logger()


class Task:
    _current = None

    def __init__(self, task_id):
        self.id = task_id
        self._logger = None

    @classmethod
    def create(cls, project_name=None, task_name=None):
        data = _read()
        task_id = f"task-{len(data['tasks']) + 1}"
        data["tasks"][task_id] = {"project": project_name, "name": task_name, "reports": []}
        _write(data)
        return cls(task_id)

    @classmethod
    def init(cls, project_name=None, task_name=None):
        cls._current = cls.create(project_name, task_name)
        return cls._current

    @classmethod
    def get_task(cls, task_id=None):
        if task_id not in _read()["tasks"]:
            raise ValueError(f"no task {task_id}")
        return cls(task_id)

    @classmethod
    def current_task(cls):
        return cls._current

    def get_logger(self):
        if self._logger is None:
            self._logger = Logger(self.id)
        return self._logger

    @property
    def logger(self):
        return self.get_logger()

    def __getstate__(self):
        return {"id": self.id}

    def __setstate__(self, state):
        self.__init__(Task.get_task(task_id=state["id"]).id)
'''

STEPS = """
from clearml import Logger, Task

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows, labels"])
def load(n):
    return list(range(n)), [i % 2 for i in range(n)]


@PipelineDecorator.component(return_values=["score"])
def fit(rows, labels):
    return sum(r * l for r, l in zip(rows, labels)) / len(rows)


@PipelineDecorator.component(return_values=["table"])
def summary(rows, score):
    return {"rows": len(rows), "score": score}

"""

# Real-world file 27's shape: a Task made in the controller and its Logger taken at once, then
# both used in later blocks, the last one reporting a step's result straight from the call.
FIT_AND_REPORT = (
    STEPS
    + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 6):
    task = Task.create(project_name="kaggle", task_name="knn")
    logger = task.get_logger()
    rows, labels = load(n)
    print("loaded", len(rows))
    task.logger.report_text(f"{len(rows)} rows")
    score = fit(rows, labels)
    logger.report_single_value(name="score", value=score)
    logger.report_single_value(name="rows", value=len(rows))
    logger.report_table(title="summary", series="df", iteration=0, table_plot=summary(rows, score))
    print("reported to", task.id)
    return score
"""
)


def _with_clearml(folder: Path, source: str) -> Differential:
    package = folder / "site" / "clearml"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(STAND_IN, encoding="utf-8")
    # Installed as far as `pipec run`'s requirements check can tell.
    info = folder / "site" / "clearml-0.0.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: clearml\nVersion: 0.0.0\n")
    (info / "top_level.txt").write_text("clearml\n")
    run = Differential(folder, source)
    run.environment = {
        "PYTHONPATH": str(folder / "site"),
        "FAKE_CLEARML_STORE": str(folder / "store.json"),
    }
    return run


def _reports_both_ways(run: Differential) -> tuple[dict[str, object], dict[str, object]]:
    """What the plain run and the compiled run reported, each starting from no task at all."""
    store = run.folder / "store.json"
    store.unlink(missing_ok=True)
    plain = run.plain()
    assert plain.ok, plain.stderr
    plain_reports = json.loads(store.read_text(encoding="utf-8"))
    store.unlink()
    compiled = run.compiled()
    assert compiled.ok, compiled.stderr
    assert compiled.stdout == plain.stdout
    assert compiled.result == plain.result
    return plain_reports, json.loads(store.read_text(encoding="utf-8"))


def _script(run: Differential, text: str) -> str:
    """The one glue script of the build that holds `text`."""
    (found,) = [
        path.read_text(encoding="utf-8")
        for path in sorted((run.build_dir / "steps").glob("glue_*.py"))
        if text in path.read_text(encoding="utf-8")
    ]
    return found


def test_a_task_and_its_logger_report_to_one_task_across_step_calls(tmp_path: Path):
    run = _with_clearml(tmp_path, FIT_AND_REPORT)
    assert run.refusal is None, run.refusal
    plain, compiled = _reports_both_ways(run)
    assert compiled == plain
    (task,) = plain["tasks"].values()  # type: ignore[attr-defined]
    kinds = [report["kind"] for report in task["reports"]]
    assert kinds == ["text", "single", "single", "table"]
    # The warning of each call that talks to a ClearML server stays at its call.
    warned = [(d.code, d.location.line) for d in run.diagnostics if d.code == "PC015"]
    assert warned == [
        (
            "PC015",
            FIT_AND_REPORT.lstrip()
            .splitlines()
            .index('    task = Task.create(project_name="kaggle", task_name="knn")')
            + 1,
        )
    ]


def test_a_later_block_takes_the_logger_again_from_the_carried_task(tmp_path: Path):
    run = _with_clearml(tmp_path, FIT_AND_REPORT)
    script = _script(run, 'logger.report_single_value(name="score"')
    # Readable and runnable by hand: it loads `task` and takes the Logger from it first.
    assert "    logger = task.get_logger()  # taken again: a Logger does not pickle\n" in script
    assert "--input task=PATH" in script
    assert "--input logger" not in script
    # Loading the Task needs clearml where the script runs, though the script imports nothing.
    (stem,) = [
        path.stem
        for path in (run.build_dir / "steps").glob("glue_*.py")
        if path.read_text(encoding="utf-8") == script
    ]
    requirements = (run.build_dir / "requirements" / f"{stem}.txt").read_text(encoding="utf-8")
    assert "\nclearml" in requirements
    first = _script(run, "Task.create(")
    assert "'logger'" not in first.split("def _pipec_glue_1", 1)[1].split("\n\n", 1)[0]


def test_a_logger_from_the_task_property_of_a_task_init_crosses_too(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    run = Task.init(project_name="t", task_name="fit")
    reporter = run.logger
    rows, labels = load(n)
    reporter.report_text("loaded")
    score = fit(rows, labels)
    if score > 0:
        reporter.report_single_value(name="score", value=score)
    return run.id
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is None, run.refusal
    plain, compiled = _reports_both_ways(run)
    assert compiled == plain
    assert len(plain["tasks"]) == 1  # type: ignore[arg-type]


def test_a_task_alone_crosses_as_a_pickled_value(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    task = Task.create(project_name="t", task_name="fit")
    rows, labels = load(n)
    task.get_logger().report_text(f"{len(rows)} rows")
    score = fit(rows, labels)
    again = Task.get_task(task_id=task.id)
    again.get_logger().report_single_value(name="score", value=score)
    return score
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is None, run.refusal
    plain, compiled = _reports_both_ways(run)
    assert compiled == plain


def test_a_logger_whose_task_name_was_rebound_is_refused(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    task = Task.create(project_name="t", task_name="fit")
    logger = task.get_logger()
    rows, labels = load(n)
    task = Task.create(project_name="t", task_name="other")
    score = fit(rows, labels)
    logger.report_single_value(name="score", value=score)
    return score
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is not None
    (refused,) = [d for d in run.refusal.diagnostics if d.severity.name == "ERROR"]
    assert refused.code == "PC699"
    assert (
        refused.location.line
        == source.lstrip()
        .splitlines()
        .index('    logger.report_single_value(name="score", value=score)')
        + 1
    )
    assert "`task` no longer holds the Task `logger` was taken from" in refused.message
    assert "give the new value of `task` a name of its own" in refused.hint


def test_the_current_logger_across_a_step_call_is_refused(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    Task.init(project_name="t", task_name="fit")
    logger = Logger.current_logger()
    rows, labels = load(n)
    logger.report_text(f"{len(rows)} rows")
    return len(rows)
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is not None
    (refused,) = [d for d in run.refusal.diagnostics if d.severity.name == "ERROR"]
    assert refused.code == "PC699"
    assert "`Logger.current_logger()` run again in a later block's process" in refused.message
    assert "logger = task.get_logger()" in refused.hint
    # In Python the same file runs: the refusal is pipec's, for a Logger that cannot cross.
    assert run.plain().ok


def test_a_logger_passed_to_a_step_is_refused(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.component(return_values=["done"])
def report(logger, value):
    logger.report_single_value(name="value", value=value)
    return True


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    task = Task.create(project_name="t", task_name="fit")
    logger = task.get_logger()
    rows, labels = load(n)
    return report(logger, len(rows))
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is not None
    (refused,) = [d for d in run.refusal.diagnostics if d.severity.name == "ERROR"]
    assert refused.code == "PC699"
    assert "as a step's argument" in refused.message
    assert "pass `task` and take its Logger in the step" in refused.hint


SOME_PATHS = {
    "glue": """
    if flag:
        logger = task.get_logger()
    rows, labels = load(n)
""",
    "run-time": """
    rows, labels = load(n)
    if len(rows) > 2:
        logger = task.get_logger()
    score = fit(rows, labels)
""",
}


@pytest.mark.parametrize("where", sorted(SOME_PATHS))
def test_a_logger_taken_on_some_paths_only_is_refused_after_them(tmp_path: Path, where: str):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4, flag: bool = True):
    task = Task.create(project_name="t", task_name="fit")
"""
        + SOME_PATHS[where]
        + """
    logger.report_text("after")
    return n
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is not None
    (refused,) = [d for d in run.refusal.diagnostics if d.severity.name == "ERROR"]
    assert refused.code == "PC699"
    assert "`logger` is taken only on some paths" in refused.message


def test_a_deleted_logger_is_unbound_as_in_python(tmp_path: Path):
    source = (
        STEPS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    task = Task.create(project_name="t", task_name="fit")
    logger = task.get_logger()
    rows, labels = load(n)
    logger.report_text("loaded")
    del logger
    score = fit(rows, labels)
    print(score)
    logger.report_text("after")
    return score
"""
    )
    run = _with_clearml(tmp_path, source)
    assert run.refusal is None, run.refusal
    plain, _ = run.same()
    assert not plain.ok and "UnboundLocalError" in plain.error
