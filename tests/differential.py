"""Run one pipeline file both ways — as plain Python and built then run with `pipec run` — and compare.

Plain Python is the reference: what it prints, returns and raises is what `pipec run` must
print, return and raise. The build happens in this process (the pure core); both runs are
subprocesses, with every cache inside the test's folder.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golden_build import build_file, write_tree

from pipec.compiler.diagnostics import Diagnostic, UserError
from pipec.compiler.requirements import StaticEnvironment
from pipec.literals import literal_source

PIPEC = Path(sys.executable).parent / "pipec"

_PLAIN_RUN = """
import json, os, pickle, runpy, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
namespace = runpy.run_path(sys.argv[1], run_name="pipec_plain_run")
result = namespace["controller"](**json.loads(sys.argv[2]))
with open(sys.argv[3], "wb") as handle:
    pickle.dump(result, handle)
"""


@dataclass
class Outcome:
    ok: bool
    stdout: str
    error: str  # the last line of the traceback (the exception and its message), or ""
    result: Any = None
    stderr: str = ""
    exit_code: int = 0


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PIPEC_CACHE_DIR"] = str(folder / "cache")
    env["XDG_CACHE_HOME"] = str(folder / "xdg-cache")
    env.pop("PYTHONHASHSEED", None)
    return env


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("pipec:")]
    return lines[-1] if lines else ""


class Differential:
    """One pipeline file under `folder`: built once, then run both ways as often as asked."""

    def __init__(self, folder: Path, source: str) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / "pipeline.py"
        self.file.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        self.build_dir = folder / "build"
        self.run_options: list[str] = []  # extra `pipec run` options, e.g. ["--workers", "2"]
        self.environment: dict[str, str] = {}  # variables set for both runs
        self.refusal: UserError | None = None
        self.diagnostics: tuple[Diagnostic, ...] = ()  # of the build, warnings included
        try:
            built = build_file(self.file, "pipeline.py", StaticEnvironment({}))
        except UserError as error:
            self.refusal = error
            self.diagnostics = error.diagnostics
            return
        self.diagnostics = built.diagnostics
        write_tree(built.files, self.build_dir)
        self.runs = 0

    @property
    def refused_codes(self) -> list[str]:
        assert self.refusal is not None, "the build succeeded"
        return [d.code for d in self.refusal.diagnostics if d.code]

    def plain(self, **params: object) -> Outcome:
        target = self.folder / "plain-result.pkl"
        target.unlink(missing_ok=True)
        argv = [sys.executable, "-c", _PLAIN_RUN, str(self.file), json.dumps(params), str(target)]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=self.folder,
            env=_env(self.folder) | self.environment,
            timeout=120,
        )
        ok = done.returncode == 0
        # sys.exit(0) in the controller: a successful program that returned nothing
        result = pickle.loads(target.read_bytes()) if ok and target.exists() else None
        error = "" if ok else _last_line(done.stderr)
        return Outcome(ok, done.stdout, error, result, done.stderr, done.returncode)

    def as_program(self, *arguments: str) -> Outcome:
        """`python pipeline.py ARGUMENTS`: the file run as a script, its `__main__` block and all."""
        done = subprocess.run(
            [sys.executable, str(self.file), *arguments],
            capture_output=True,
            text=True,
            cwd=self.folder,
            env=_env(self.folder) | self.environment,
            timeout=120,
        )
        ok = done.returncode == 0
        error = "" if ok else _last_line(done.stderr)
        return Outcome(ok, done.stdout, error, None, done.stderr, done.returncode)

    def compiled(self, **params: object) -> Outcome:
        assert self.refusal is None, f"the build was refused:\n{self.refusal}"
        self.runs += 1
        runs_dir = self.folder / f"runs-{self.runs}"
        argv = [str(PIPEC), "run", str(self.build_dir), "--runs-dir", str(runs_dir)]
        argv += ["--cache-dir", str(self.folder / "cache"), *self.run_options]
        argv += [f"--param={name}={literal_source(value)}" for name, value in params.items()]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=self.folder,
            env=_env(self.folder) | self.environment,
            timeout=300,
        )
        # 2 (pipec refused the command) and 70 (a bug in pipec) are pipec's own; other statuses
        # are the program's, from sys.exit in the controller, and compared with plain Python's.
        assert done.returncode not in (2, 70) or "pipec-system-exit: " in done.stderr, (
            f"pipec run exited {done.returncode}:\n{done.stderr}"
        )
        ok = done.returncode == 0
        result = None
        if ok:
            (run_dir,) = runs_dir.iterdir()
            record = json.loads((run_dir / "run.json").read_text())
            result = _result_value(run_dir, record["result"])
        error = "" if ok else done.stderr
        return Outcome(ok, done.stdout, error, result, done.stderr, done.returncode)

    def states(self) -> dict[str, str]:
        """Each node's final state in the last compiled run (`succeeded`, `aborted`, ...)."""
        (run_dir,) = (self.folder / f"runs-{self.runs}").iterdir()
        record = json.loads((run_dir / "run.json").read_text())
        return {name: node["state"] for name, node in record["nodes"].items()}

    def same(self, **params: object) -> tuple[Outcome, Outcome]:
        """Run both ways and assert they agree: stdout, result, success, and the error raised."""
        plain, compiled = self.plain(**params), self.compiled(**params)
        assert_same(plain, compiled)
        return plain, compiled


def assert_same(plain: Outcome, compiled: Outcome) -> None:
    assert compiled.ok == plain.ok, f"plain:\n{plain.stderr}\ncompiled:\n{compiled.stderr}"
    assert compiled.exit_code == plain.exit_code, compiled.stderr
    assert compiled.stdout == plain.stdout, compiled.stderr
    if plain.ok:
        assert compiled.result == plain.result
        assert type(compiled.result) is type(plain.result)
    else:
        assert plain.error in compiled.error, (plain.error, compiled.stderr)


def _result_value(run_dir: Path, result: object) -> object:
    if result is None:
        return None
    assert isinstance(result, dict)
    if "node" in result:
        return pickle.loads((run_dir / result["path"]).read_bytes())
    if "combined" in result:
        return _combine(run_dir, result["combined"])
    if "value" in result:
        return result["value"]
    return ast.literal_eval(result["literal"])


def _combine(run_dir: Path, spec: dict[str, object]) -> object:
    if "path" in spec:
        return pickle.loads((run_dir / str(spec["path"])).read_bytes())
    if "literal" in spec:
        return ast.literal_eval(str(spec["literal"]))
    if "dict" in spec:
        pairs = spec["dict"]
        assert isinstance(pairs, list)
        return {ast.literal_eval(key): _combine(run_dir, entry) for key, entry in pairs}
    kind, entries = next(iter(spec.items()))
    assert isinstance(entries, list)
    values = [_combine(run_dir, entry) for entry in entries]
    return tuple(values) if kind == "tuple" else values
