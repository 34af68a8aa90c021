"""Issue 10 item 3: an output name is a ClearML artifact name, any string. The manifest keeps it;
`artifact_file_name` maps it to the file name the runtime stores it under."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

from pipec.manifest import artifact_file_name

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

NAMES = ["pandas DataFrame", "größe", "data, labels", "a=b", "a", "../../escaped/owned", "%41"]


def test_the_file_names_are_distinct_single_components_and_plain_names_stay():
    files = [artifact_file_name(name) for name in NAMES + ["A", "a%3Db"]]
    assert len(set(files)) == len(files)
    assert all("/" not in f and "\\" not in f and f not in ("", ".", "..") for f in files)
    assert artifact_file_name("X_train") == "X_train"
    assert artifact_file_name("a=b") == artifact_file_name("a=b")


def test_any_output_name_runs_and_stays_inside_the_run_folder(tmp_path: Path):
    run = Differential(
        tmp_path / "p",
        f"""
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values={NAMES!r})
def make(n):
    return n, n + 1, (n, n), "eq", "plain", "deep", "percent"


@PipelineDecorator.component(return_values=[])
def nothing(n):
    return n


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    frame, size, both, eq, plain, deep, percent = make(n)
    print(frame, size, both, eq, plain, deep, percent)
    print(nothing(n))
    return frame + size
""",
    )
    run.same()
    assert not list(tmp_path.rglob("owned*")) or all(
        "artifacts" in str(p) for p in tmp_path.rglob("*owned*")
    )
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "p" / "escaped").exists()
