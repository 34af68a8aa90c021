"""Issue 9, family 1: module-level logging output is printed as module-level `print` is — by
plain Python once, at import, and by no script of a compiled run — while logging setup
(`basicConfig`, `getLogger`) runs in every script, as other setup does."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEP_AND_CONTROLLER = """

@PipelineDecorator.component(return_values=["n"])
def one(x):
    logging.getLogger("step").info("in the step")
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    n = one(1)
    print(n)
    return n
"""


def test_module_level_log_records_are_printed_by_no_script(tmp_path: Path):
    run = Differential(
        tmp_path,
        """import logging
import sys

from pipec import PipelineDecorator

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
log = logging.getLogger("p")
log.info("module loaded")
logging.info("root says hi")
logger = logging.getLogger(__name__)
logger.warning("careful")
if log:
    log.info("in a block")
"""
        + STEP_AND_CONTROLLER,
    )
    plain, compiled = run.plain(), run.compiled()
    module_lines = "INFO module loaded\nINFO root says hi\nWARNING careful\nINFO in a block\n"
    assert plain.stdout == module_lines + "INFO in the step\n2\n"
    assert compiled.ok and compiled.stdout == "2\n" and compiled.result == plain.result
    (run_dir,) = (tmp_path / "runs-1").iterdir()
    step_log = (run_dir / "logs" / "one.log").read_text()
    # The setup ran in the step's process (its record was written at INFO), the output not.
    assert "INFO in the step" in step_log
    assert "module loaded" not in step_log and "careful" not in step_log


def test_a_root_record_before_basic_config_keeps_its_effect_on_the_config(tmp_path: Path):
    # `logging.warning` gives the root logger a stderr handler when it has none, so the later
    # basicConfig does nothing and INFO records stay hidden: every script must agree.
    run = Differential(
        tmp_path,
        """import logging
import sys

from pipec import PipelineDecorator

logging.warning("before any config")
logging.basicConfig(stream=sys.stdout, level=logging.INFO)
"""
        + STEP_AND_CONTROLLER.replace(
            "    print(n)\n", '    logging.info("controller")\n    print(n)\n'
        ),
    )
    plain, _ = run.same()
    assert plain.stdout == "2\n"
