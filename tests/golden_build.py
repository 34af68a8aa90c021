"""The one code path that both `tests/regenerate.py` and the tests use to build and check files.

Golden trees are built by the pure core with a fixed environment (numpy 2.0.0, scikit-learn
1.5.0), so they do not depend on what the machine running the tests has installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from pipec.compiler.build import BuildPlace, BuildResult, build
from pipec.compiler.cli import main as pipec_main
from pipec.compiler.project_files import DirectoryProject
from pipec.compiler.requirements import Environment, StaticEnvironment
from pipec.compiler.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden"
INVALID = REPO / "tests" / "cases" / "invalid"
REGENERATE = "python tests/regenerate.py"
RULES_DOCUMENT = REPO / "docs" / "rules.md"

# top-level module -> {distribution: (version, dotted prefixes it provides)}
STATIC_ENVIRONMENT = StaticEnvironment(
    {
        "numpy": {"numpy": ("2.0.0", ("numpy",))},
        "sklearn": {"scikit-learn": ("1.5.0", ("sklearn",))},
    },
    python="3.12.3",  # the Python a golden build says it was made with
)


def example_names() -> list[str]:
    """Every example folder that holds a pipeline.py."""
    return sorted(p.parent.name for p in EXAMPLES.glob("*/pipeline.py"))


def build_file(
    path: Path,
    display: str,
    environment: Environment = STATIC_ENVIRONMENT,
    pipeline: str | None = None,
) -> BuildResult:
    """Build one pipeline file through the pure core, as `pipec build` would from the repo root."""
    text = path.read_bytes().decode("utf-8-sig")
    return build(
        text,
        display,
        environment=environment,
        project=DirectoryProject(path.parent, path),
        pipeline=pipeline,
        place=BuildPlace(str(path.absolute()), os.path.realpath(path)),
    )


def build_example(name: str, environment: Environment = STATIC_ENVIRONMENT) -> BuildResult:
    return build_file(EXAMPLES / name / "pipeline.py", f"examples/{name}/pipeline.py", environment)


def write_tree(files: Mapping[str, bytes], root: Path) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under root, keyed by its POSIX path relative to root."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def invalid_case_names() -> list[str]:
    return sorted(p.stem for p in INVALID.glob("*.py"))


# Cases whose mistake is only one on a Python older than the version given: there the file is
# valid. Their snapshot is written and checked on older Pythons; on newer ones the file builds.
VALID_FROM_PYTHON = {"newer_python_syntax": (3, 14)}


def invalid_here(name: str) -> bool:
    """Whether case `name` is a mistake on the Python running the tests."""
    return sys.version_info < VALID_FROM_PYTHON.get(name, (99,))


def check_invalid(name: str) -> tuple[int, str]:
    """(exit code, stderr) of `pipec check tests/cases/invalid/<name>.py` run at the repo root."""
    stderr = io.StringIO()
    with (
        _working_directory(REPO),
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        code = pipec_main(["check", f"tests/cases/invalid/{name}.py"])
    return code, stderr.getvalue()


def rules_document() -> str:
    """docs/rules.md: the catalogue of refusal rules as a table, generated from pipec.compiler.rules."""
    lines = [
        "# Refusal rules",
        "",
        "Every error and warning `pipec build` reports carries a stable code, printed as",
        "`path:line:col: error[PC201]: message`. Generated from `compiler/rules.py` by",
        f"`{REGENERATE}`; do not edit.",
        "",
        "| code | name | severity | message | hint |",
        "|---|---|---|---|---|",
    ]
    for rule in ALL_RULES:
        cells = (rule.code, rule.name, rule.severity.value, rule.message, rule.hint)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
