"""An exception class defined in the pipeline file is named in a failed run as Python names it.

The scripts give the file's classes one importable home, `_pipec_pipeline` (so that `isinstance`
holds across steps); a failed step or glue printed `_pipec_pipeline.PipelineError: ...` where
`python pipeline.py` prints `PipelineError: ...`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")


@pytest.mark.parametrize(("a", "where"), [(5, "strict"), (-1, "glue_1")])
def test_the_files_own_exception_is_named_as_python_names_it(tmp_path: Path, a: int, where: str):
    run = Differential(
        tmp_path,
        f"""
from pipec import PipelineDecorator


class PipelineError(Exception):
    pass


@PipelineDecorator.component(return_values=["v"])
def strict(x):
    if x > 2:
        raise PipelineError(f"x={{x}}")
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = strict(a)
    if v < 0:
        raise PipelineError("negative")
    return v


if __name__ == "__main__":
    controller(a={a})
""",
    )
    program, compiled = run.as_program(), run.compiled()
    assert not program.ok and not compiled.ok
    assert program.error.startswith("PipelineError: "), program.stderr
    assert f"[{where}] {program.error}\n" in compiled.stderr
    assert "_pipec_pipeline" not in compiled.stderr
