"""Issues 9/10: a name bound to a module is imported afresh by every script, never a value two
controller names share; a local module's own list, dict or set is one, however it is reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

CONFIG = """
import logging
from pathlib import Path

CONFIG_DIR = Path(__file__).parent
DATA_DIR = CONFIG_DIR / "data"
LOGS_DIR = CONFIG_DIR / "logs"
LIMITS = [1, 2]
logger = logging.getLogger("pipeline")
"""

# Stands in for torch, pytorch_lightning and the project's `utils`: calls pipec cannot see into.
UTILS = """
class Namespace:
    def __init__(self, **values):
        self.__dict__.update(values)


def load_dict(filepath):
    return {"batch_size": 4, "name": filepath.name}


def create_dataloaders(args, train_subset, valid_subset):
    args.batches = (len(train_subset) + len(valid_subset)) // args.batch_size
    return train_subset, valid_subset


class Trainer:
    @classmethod
    def from_argparse_args(cls, args, root):
        trainer = cls()
        trainer.args, trainer.root = args, root.name
        args.trainer = "ready"
        return trainer
"""

HEAD = """
from pipec import PipelineDecorator
{top}


@PipelineDecorator.component(return_values=["trainset, validset"])
def prepare_data(n):
    return list(range(n)), list(range(n, n + 2))


@PipelineDecorator.component(return_values=["train_subset, valid_subset"])
def create_subset(trainset, validset):
    return trainset[:3], validset[:1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 6):
"""


def _project(tmp_path: Path, top: str, body: str) -> Differential:
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "config.py").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "utils.py").write_text(UTILS, encoding="utf-8")
    return Differential(tmp_path, HEAD.format(top=top) + body)


TRAINING = """
    import utils
    from config import config
    from config.config import logger

    logger.info("Reading arguments...")
    args_path = config.CONFIG_DIR / "args.json"
    args = utils.Namespace(**utils.load_dict(filepath=args_path))
    trainset, validset = prepare_data(n)
    train_subset, valid_subset = create_subset(trainset, validset)
    loaders = utils.create_dataloaders(args, train_subset, valid_subset)
    trainer = utils.Trainer.from_argparse_args(args, root=config.LOGS_DIR)
    print(sorted(vars(args).items()), trainer.root, config.DATA_DIR.name, loaders)
    return args.batches
"""


def test_a_training_controller_importing_project_modules_runs_as_in_python(tmp_path: Path):
    # Was refused (PC611 at the dataloaders call, PC616 at the trainer): `args` was built from
    # `config.CONFIG_DIR`, and the module `config` counted as a value `args` might share.
    run = _project(tmp_path, "", TRAINING)
    plain, _ = run.same()
    assert plain.result == 1
    assert "'trainer', 'ready'" in plain.stdout


def test_the_same_controller_with_module_level_imports_runs_as_in_python(tmp_path: Path):
    body = TRAINING.replace("    import utils\n    from config import config\n", "")
    run = _project(tmp_path, "import utils\nfrom config import config", body)
    run.same(n=9)


def test_a_module_method_called_before_a_step_is_not_handed_on_as_a_value(tmp_path: Path):
    # `os.makedirs(...)` counted as a change of `os`: the glue tried to pickle the module.
    run = _project(
        tmp_path,
        "",
        """
    import os
    from config import config

    os.makedirs("made", exist_ok=True)
    logger = config.logger
    logger.info("made")
    trainset, validset = prepare_data(n)
    print(os.path.isdir("made"), config.LIMITS, trainset)
""",
    )
    run.same()


@pytest.mark.parametrize(
    ("top", "body", "code", "other"),
    [
        (  # a list a controller `from ... import` binds is the module's own object
            "",
            "    from config.config import LIMITS\n    rows = [LIMITS]\n",
            "PC611",
            "LIMITS",
        ),
        ("from config.config import LIMITS", "    rows = [LIMITS]\n", "PC611", "LIMITS"),
        (  # reached through the module, imported in the controller or at module level
            "",
            "    from config import config\n    rows = [config.LIMITS]\n",
            "PC611",
            "config.LIMITS",
        ),
        ("import config.config as cc", "    rows = [cc.LIMITS]\n", "PC611", "cc.LIMITS"),
    ],
)
def test_a_local_modules_list_changed_through_a_controller_name_is_refused(
    tmp_path: Path, top: str, body: str, code: str, other: str
):
    tail = "    trainset, validset = prepare_data(n)\n    rows[0].append(trainset)\n"
    run = _project(tmp_path, top, body + tail + "    print(rows)\n")
    assert run.refused_codes == [code]
    (diagnostic,) = run.refusal.diagnostics  # type: ignore[union-attr]
    assert f"`{other}`" in diagnostic.message
    lines = run.file.read_text(encoding="utf-8").splitlines()
    assert lines[diagnostic.location.line - 1].strip() == "rows[0].append(trainset)"


def test_a_local_modules_list_changed_through_the_module_is_refused(tmp_path: Path):
    # Was a run-time failure: the glue tried to hand `config` on as a pickled value.
    run = _project(
        tmp_path,
        "",
        """
    from config import config
    config.LIMITS.append(5)
    trainset, validset = prepare_data(n)
    print(config.LIMITS, trainset)
""",
    )
    assert run.refused_codes == ["PC606"]
    (diagnostic,) = run.refusal.diagnostics  # type: ignore[union-attr]
    assert "`config.LIMITS`" in diagnostic.message
    assert "limits = list(config.LIMITS)" in diagnostic.hint


def test_a_read_of_a_module_list_changes_nothing(tmp_path: Path):
    run = _project(
        tmp_path,
        "from config import config",
        """
    total = config.LIMITS.count(1) + len(config.LIMITS)
    trainset, validset = prepare_data(n)
    print(total, trainset)
""",
    )
    run.same()
