"""Generated scripts of builds with run-time branches are lint-clean: no name a linter calls
undefined (ruff F821), even where the controller reads a name a branch may leave unbound."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from golden_build import build_file, write_tree

from pipec.compiler.requirements import StaticEnvironment

STEPS = """
import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["items"])
def make(n):
    return list(range(n))

"""

CONTROLLERS = {
    "bound_in_one_branch": """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 1, flag: bool = True):
    b = one(x)
    if flag:
        a = one(b)
    print(a)
    return a
""",
    "deleted_then_read": """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 1, flag: bool = True):
    b = one(x)
    c = b
    del c
    if b > 1:
        c = one(b)
    elif flag:
        print("no c")
    return c
""",
    "loop_variable_after_a_run_time_loop": """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    out = []
    for item in make(n):
        out.append(one(item))
    print(item, out)
    return item
""",
    "match_binding": """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 1):
    b = one(x)
    match b:
        case 2:
            found = one(b)
        case _:
            pass
    if b > 5:
        sys.exit(2)
    return found
""",
}


def _ruff() -> list[str]:
    ruff = Path(sys.executable).with_name("ruff")
    return [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_the_scripts_of_a_build_with_branches_have_no_undefined_names(tmp_path: Path, name: str):
    source = tmp_path / "pipeline.py"
    source.write_text(textwrap.dedent(STEPS + CONTROLLERS[name]).lstrip(), encoding="utf-8")
    built = build_file(source, "pipeline.py", StaticEnvironment({}))
    write_tree(built.files, tmp_path / "build")
    scripts = sorted((tmp_path / "build").rglob("*.py"))
    assert len(scripts) > 2
    for select in ("F821", "F"):  # F821 named by the issue; then every pyflakes rule
        done = subprocess.run(
            [*_ruff(), "check", "--isolated", "--no-cache", "--select", select, *map(str, scripts)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
