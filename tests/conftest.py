"""Fixtures of the compiler's tests: a tmp iris dataset, inline pipelines, and a tiny manifest driver."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from golden_build import REPO, build_file, write_tree

from pipec.compiler.requirements import StaticEnvironment
from pipec.inputs import Artifact, Combined, ResolvedInput, Value, describe_combined
from pipec.manifest import Binding, Container, Literal, OutputRef, ParamRef, load_manifest

NOTHING_INSTALLED = StaticEnvironment({})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cold",
        action="store_true",
        help="run every `pipec run` of the tests with a fresh interpreter per step (PIPEC_COLD=1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_modes: run the test with warm starts (the default) and again with `--cold`",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    both = metafunc.definition.get_closest_marker("both_modes") is not None
    if both and not metafunc.config.getoption("--cold"):
        metafunc.parametrize("start_mode", ["warm", "cold"], indirect=True)


@pytest.fixture(autouse=True)
def start_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How `pipec run` starts steps in this test: every child process inherits the choice."""
    default = "cold" if request.config.getoption("--cold") else "warm"
    mode: str = getattr(request, "param", default)
    if mode == "cold":
        monkeypatch.setenv("PIPEC_COLD", "1")
    else:
        monkeypatch.delenv("PIPEC_COLD", raising=False)
    return mode


def pipec_command(*args: str | Path) -> list[str]:
    """The `pipec` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("pipec")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "pipec.compiler.cli"]
    return head + [str(a) for a in args]


def run_pipec(
    *args: str | Path, cwd: Path = REPO, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pipec_command(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


def pipec_run_exists() -> bool:
    return run_pipec("run", "--help").returncode == 0


@pytest.fixture(scope="session")
def iris_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A file:// URL of the iris table, written by the example's own script into a tmp folder."""
    path = tmp_path_factory.mktemp("iris") / "iris.pkl"
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "iris" / "make_dataset.py"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class InlineBuild:
    source: Path  # the pipeline file
    folder: Path  # the build folder
    manifest: Mapping[str, Any]  # manifest.json as written


@pytest.fixture
def build_inline(tmp_path: Path) -> Callable[..., InlineBuild]:
    """Write `text` (dedented) as a pipeline file under tmp_path and build it with the pure core."""

    def make(text: str, name: str = "pipeline", newline: str = "\n", **options: Any) -> InlineBuild:
        source = tmp_path / name / "pipeline.py"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(textwrap.dedent(text).lstrip().replace("\n", newline).encode())
        result = build_file(
            source, f"{name}/pipeline.py", options.pop("environment", NOTHING_INSTALLED), **options
        )
        folder = tmp_path / name / "build"
        write_tree(result.files, folder)
        return InlineBuild(source, folder, json.loads(result.files["manifest.json"]))

    return make


@dataclass(frozen=True)
class DriverRun:
    stdout: str  # what the effect nodes printed, in node order: the controller's printing
    result: Any  # the pipeline's result


def _resolve(binding: Binding, artifacts: Path, values: Mapping[str, Value]) -> ResolvedInput:
    """A straight-line build's binding, with every producer already run: a file or a value."""
    if isinstance(binding, OutputRef):
        path = str(artifacts / binding.node / binding.output) + ".pkl"
        return Artifact(path, path, "", binding.node, binding.output)
    if isinstance(binding, ParamRef):
        return values[binding.name]
    if isinstance(binding, Literal):
        return Value(binding.source, binding.value)
    assert isinstance(binding, Container), f"the driver runs straight-line builds, not {binding}"
    entries = tuple(_resolve(item, artifacts, values) for item in binding.items)
    return Combined(binding.kind.value, entries, binding.keys)


def run_manifest(folder: Path, params: Mapping[str, Any] | None = None) -> DriverRun:
    """Run a build's nodes one by one as plain `python steps/x.py` processes, as a user could by
    hand, in an order that honours inputs and `after`; no pipec runtime is involved."""
    manifest = load_manifest(folder)
    values = {
        p.name: Value(p.default.source, p.default.value) for p in manifest.parameters if p.default
    }
    values.update({name: Value(repr(value), value) for name, value in (params or {}).items()})
    artifacts = folder.parent / f"{folder.name}-artifacts"
    artifacts.mkdir()
    pending = list(manifest.nodes)
    finished: set[str] = set()
    printed: list[str] = []
    while pending:
        dependencies = manifest.dependencies()
        node = next(n for n in pending if dependencies[n.name] <= finished)
        pending.remove(node)
        assert not node.when and node.map is None, "the driver runs straight-line builds"
        argv = [sys.executable, str(folder / node.script)]
        for argument, binding in node.inputs.items():
            value = _resolve(binding, artifacts, values)
            if isinstance(value, Artifact):
                argv += ["--input", f"{argument}={value.path}"]
            elif isinstance(value, Value):
                argv += ["--value", f"{argument}={value.source}"]
            else:  # a container built at compile time: passed as @FILE, its leaves paths or literals
                spec = artifacts / f"{node.name}-{argument}.json"
                spec.write_text(json.dumps(describe_combined(value, "path")))
                argv += ["--input", f"{argument}=@{spec}"]
        for output in node.outputs:
            argv += ["--output", f"{output}={artifacts / node.name / output}.pkl"]
        (artifacts / node.name).mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            argv, cwd=artifacts / node.name, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{node.name} failed:\n{done.stderr}"
        if node.effects:
            printed.append(done.stdout)
        finished.add(node.name)
    result = None
    if manifest.result is not None:
        result = _value(_resolve(manifest.result, artifacts, values))
    shutil.rmtree(artifacts)
    return DriverRun("".join(printed), result)


def _value(resolved: ResolvedInput) -> Any:
    if isinstance(resolved, Artifact):
        with open(resolved.path, "rb") as file:
            return pickle.load(file)
    if isinstance(resolved, Value):
        return resolved.value
    entries = [_value(entry) for entry in resolved.entries]
    if resolved.kind == "dict":
        return {
            ast.literal_eval(key): entry for key, entry in zip(resolved.keys, entries, strict=True)
        }
    return entries if resolved.kind == "list" else tuple(entries)


def run_eagerly(source: Path, controller: str, **params: Any) -> DriverRun:
    """The reference semantics: the file run as plain Python (steps are ordinary calls)."""
    printed = io.StringIO()
    namespace = runpy.run_path(str(source))  # not as __main__: only the controller call below runs
    with contextlib.redirect_stdout(printed):
        result = namespace[controller](**params)
    return DriverRun(printed.getvalue(), result)
