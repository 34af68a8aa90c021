"""The build reads the user's file; it never imports it, runs it, or evaluates its decorator arguments."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import run_pipec
from golden_build import REPO

HARMFUL = """
from pipec import PipelineDecorator

with open({marker!r}, "w") as evidence:
    evidence.write("the pipeline file was imported")
raise RuntimeError("importing this file is forbidden")


def side_effect():
    with open({marker!r}, "w") as evidence:
        evidence.write("a decorator argument was evaluated")
    return "training"


@PipelineDecorator.component(return_values=["doubled"], task_type=side_effect())
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="harmless", project="tests", version="1")
def controller(n: int = 3):
    return double(n)


if __name__ == "__main__":
    side_effect()
    controller(n=4)
"""


def _listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def test_a_harmful_file_builds_and_leaves_no_trace(tmp_path: Path):
    marker = tmp_path / "evidence" / "imported.txt"
    marker.parent.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "pipeline.py").write_text(textwrap.dedent(HARMFUL).format(marker=str(marker)))
    before = _listing(tmp_path)

    done = run_pipec("build", "pipeline.py", "-o", "out", cwd=work)

    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
    added = [p for p in _listing(tmp_path) if p not in before]
    assert added and all(p == "work/out" or p.startswith("work/out/") for p in added), added
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    node = manifest["nodes"][0]
    assert node["function"] == "double"
    assert manifest["parameters"][0]["default"] == {"value": 4}
    assert node["options"]["task_type"] == {"source": "side_effect()"}


def test_an_option_that_is_not_a_literal_is_warned_about(tmp_path: Path):
    # Issue 2: options are literals or module constants; "anything else a warning".
    (tmp_path / "pipeline.py").write_text(
        textwrap.dedent(HARMFUL).format(marker=str(tmp_path / "x"))
    )
    done = run_pipec("check", "pipeline.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    warnings = [
        line for line in done.stderr.splitlines() if re.search(r": warning\[PC\d{3}\]: ", line)
    ]
    assert any(line.startswith("pipeline.py:15:") and "task_type" in line for line in warnings), (
        done.stderr
    )


def test_building_iris_imports_neither_numpy_nor_sklearn():
    probe = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, "tests")
        from golden_build import build_example
        build_example("iris")
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"numpy", "sklearn", "scipy"})
        print(heavy)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
