"""Issue 9/10: values a call pipec cannot see inside was handed (`create_dataloaders(args,
train, valid)` of a training controller) run as in Python while they stay in one glue block,
and a change the compiled run could not carry over is refused naming that call (PC616)."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

# A project module pipec does not look inside: it keeps one argument inside another.
LOADERS = """
def create_dataloaders(args, train_subset, valid_subset):
    valid_subset.append(train_subset)
    return {"train": train_subset, "valid": valid_subset, "size": args["batch_size"]}


def make_trainer(args):
    return {"args": args}
"""

HEAD = """
from pipec import PipelineDecorator
from loaders import create_dataloaders, make_trainer


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return [[i, i * 2] for i in range(n)]


@PipelineDecorator.component(return_values=["score"])
def train(loaders, extra):
    return len(loaders["train"]) + len(extra)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 6):
    args = {"batch_size": 4, "epochs": 2}
    rows = load(n)
    train_subset = rows[:4]
    valid_subset = rows[4:]
    loaders = create_dataloaders(args, train_subset, valid_subset)
"""


def _run(tmp_path: Path, tail: str) -> Differential:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "loaders.py").write_text(LOADERS, encoding="utf-8")
    return Differential(tmp_path, HEAD + tail)


def test_changes_in_the_glue_block_of_the_call_run_as_in_python(tmp_path: Path):
    # Was refused with five PC611: the slices and the call went into glue nodes of their own.
    run = _run(
        tmp_path,
        """
    train_subset.append([99, 98])
    valid_subset[0].append(7)
    args["epochs"] = 3
    score = train(loaders, train_subset)
    print(score, valid_subset, args, loaders)
    return score, valid_subset
""",
    )
    plain, _ = run.same()
    assert plain.stdout.startswith("10 [[4, 8, 7], [5, 10], [[0, 0]")
    run.same(n=2)


def test_a_change_after_a_step_split_the_values_names_the_call(tmp_path: Path):
    run = _run(
        tmp_path,
        """
    score = train(loaders, train_subset)
    train_subset.append([99, 98])
    print(score, valid_subset)
    return score
""",
    )
    assert run.refused_codes == ["PC616"]
    (diagnostic,) = run.refusal.diagnostics  # type: ignore[union-attr]
    assert diagnostic.location.line == 24
    assert "`create_dataloaders(args, train_subset, valid_subset)` (line 21)" in diagnostic.message
    assert "copy.deepcopy(train_subset)" in diagnostic.hint


def test_a_change_no_later_code_can_see_through_the_call_runs(tmp_path: Path):
    run = _run(
        tmp_path,
        """
    trainer = make_trainer(args)
    score = train(loaders, train_subset)
    print(trainer)
    args["epochs"] = 3
    return score, args
""",
    )
    run.same()


def test_a_change_the_call_result_is_read_after_is_refused_naming_the_call(tmp_path: Path):
    run = _run(
        tmp_path,
        """
    trainer = make_trainer(args)
    score = train(loaders, train_subset)
    args["epochs"] = 3
    print(trainer)
    return score
""",
    )
    assert run.refused_codes == ["PC616"]
    assert "`make_trainer(args)`" in run.refusal.diagnostics[0].message  # type: ignore[union-attr]


# The shape of a PyTorch Lightning training controller (refused with five PC611 before): an
# argparse Namespace built in glue, two subsets of a step's output, calls into a library.
LIGHTNING_LIBRARY = """
class Trainer:
    def __init__(self, args):
        self.args = args

    @classmethod
    def from_argparse_args(cls, args):
        return cls(args)

    def fit(self, model, loaders):
        model.fitted = len(loaders["train"])
        loaders["train"].append([-1, -1])


class Model:
    def __init__(self, hparams):
        self.hparams = hparams
        self.fitted = 0


def create_dataloaders(args, train_subset, valid_subset):
    return {"train": train_subset, "valid": valid_subset, "bs": args.batch_size}
"""

LIGHTNING = """
import argparse

from pipec import PipelineDecorator
from lightning_like import Model, Trainer, create_dataloaders


@PipelineDecorator.component(return_values=["dataset"])
def get_dataset(n):
    return [[i, i % 2] for i in range(n)]


@PipelineDecorator.component(return_values=["metrics"])
def evaluate(fitted, train, valid):
    return {"fitted": fitted, "train": len(train), "valid": len(valid)}


@PipelineDecorator.pipeline(name="lightning", project="t", version="1")
def controller(n: int = 10, epochs: int = 2):
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch_size", type=int, default=4)
    args = parser.parse_args([])
    args.max_epochs = epochs
    dataset = get_dataset(n)
    split = int(len(dataset) * 0.8)
    train_subset = dataset[:split]
    valid_subset = dataset[split:]
    loaders = create_dataloaders(args, train_subset, valid_subset)
    trainer = Trainer.from_argparse_args(args)
    hparams = vars(args)
    model = Model(hparams)
    trainer.fit(model, loaders)
    metrics = evaluate(model.fitted, train_subset, valid_subset)
    print(metrics, hparams)
    return metrics
"""


def test_a_lightning_style_training_controller_runs_as_in_python(tmp_path: Path):
    # `vars(args)` reads `args` alone: it no longer counts as a read of `parser` after the calls
    # change `args`; the calls join the slices' glue block, so `fit` changes `train_subset` too.
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "lightning_like.py").write_text(LIGHTNING_LIBRARY, encoding="utf-8")
    run = Differential(tmp_path, LIGHTNING)
    plain, _ = run.same()
    assert plain.stdout.startswith("{'fitted': 8, 'train': 9, 'valid': 2}")


def test_vars_without_an_argument_still_reads_every_name(tmp_path: Path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "lightning_like.py").write_text(LIGHTNING_LIBRARY, encoding="utf-8")
    source = LIGHTNING.replace("print(metrics, hparams)", "print(metrics, len(vars()))")
    run = Differential(tmp_path, source)
    assert run.refusal is not None
    # vars() lists the controller's names, which glue does not hold either (PC297).
    assert set(run.refused_codes) == {"PC616", "PC297"}


# Real-world file 27's shape: a ClearML Task and its Logger kept in controller code.
CLEARML_HEAD = """
from clearml import Task

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return list(range(n))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    task = Task.create(project_name="t", task_name="fit")
    logger = task.get_logger()
"""


def test_two_names_for_one_clearml_task_across_a_step_call_name_the_server_object(
    tmp_path: Path,
):
    # One name for the Task crosses (it pickles by id) and its Logger is taken again from it
    # (tests/test_clearml_handles.py); two names for one Task changed on both sides do not.
    run = Differential(
        tmp_path,
        CLEARML_HEAD
        + """
    alias = task
    rows = load(n)
    task.logger.report_text(f"{len(rows)} rows")
    alias.get_logger().report_single_value(name="rows", value=len(rows))
""",
    )
    # The warning at Task.create, then an error at each change, through either name.
    assert run.refused_codes == ["PC015", "PC699", "PC699"]
    diagnostic = next(d for d in run.refusal.diagnostics if d.code == "PC699")  # type: ignore[union-attr]
    assert "ClearML client object (`Task.create(" in diagnostic.message
    assert "do the ClearML reporting inside a step" in diagnostic.hint


def test_a_clearml_task_used_in_one_block_of_controller_code_builds(tmp_path: Path):
    run = Differential(
        tmp_path,
        CLEARML_HEAD
        + """
    task.logger.report_text("start")
    logger.report_single_value(name="n", value=n)
    rows = load(n)
    return rows
""",
    )
    assert run.refusal is None
