"""`pipec build --pins exact|compatible|none`, and the Python a build records."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import run_pipec
from golden_build import EXAMPLES, STATIC_ENVIRONMENT

from pipec.compiler.build import build
from pipec.compiler.project_files import DirectoryProject
from pipec.compiler.requirements import StaticEnvironment, pin


def _iris(pins: str, environment: StaticEnvironment = STATIC_ENVIRONMENT) -> dict[str, list[str]]:
    path = EXAMPLES / "iris" / "pipeline.py"
    result = build(
        path.read_text(encoding="utf-8"),
        "examples/iris/pipeline.py",
        environment=environment,
        project=DirectoryProject(path.parent, path),
        pins=pins,
    )
    manifest = json.loads(result.files["manifest.json"])
    return {n["name"]: n["requirements"] for n in manifest["nodes"] if n["kind"] == "step"}


@pytest.mark.parametrize(
    ("pins", "numpy", "sklearn"),
    [
        ("exact", "numpy==2.0.0", "scikit-learn==1.5.0"),
        ("compatible", "numpy>=2.0,<3", "scikit-learn>=1.5,<2"),
        ("none", "numpy", "scikit-learn"),
    ],
)
def test_each_pin_mode_writes_its_specifiers(pins: str, numpy: str, sklearn: str):
    found = _iris(pins)
    assert found["load_table"] == [numpy]
    assert found["train_model"] == [numpy, sklearn]  # numpy unpickles the arrays it loads


def test_compatible_before_1_0_allows_only_the_same_minor_release():
    assert pin("0.14.2", "compatible") == ">=0.14,<0.15"
    assert pin("2024.1", "compatible") == ">=2024.1,<2025"
    assert pin("weird", "compatible") == "==weird"  # no release number: kept exact


def test_a_cli_build_records_its_python_and_obeys_pins(tmp_path: Path):
    out = tmp_path / "iris"
    done = run_pipec("build", "examples/iris/pipeline.py", "-o", out, "--pins", "none")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    requirements = [r for n in manifest["nodes"] for r in n["requirements"]]
    assert requirements and all(r.replace("-", "").isalnum() for r in requirements)
    wrong = run_pipec("build", "examples/iris/pipeline.py", "-o", out, "--pins", "loose")
    assert wrong.returncode == 2
    assert "invalid choice: 'loose'" in wrong.stderr
