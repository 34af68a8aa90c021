"""Hand-made build folders for the runtime tests, and a way to run ``pipec`` on them.

Each node is a small ``def step(...)`` written in the test; :func:`write_build` wraps it in
a script that follows the step-script contract of docs/build-output.md (``--input``,
``--value``, ``--output``, meta files, exit status 3 on a foreign Python) and writes a
manifest that validates against runtime/manifest.schema.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipec.manifest import (
    Binding,
    Edge,
    EdgeKind,
    Literal,
    Location,
    Manifest,
    NodeKind,
    OutputRef,
    Parameter,
    ParamRef,
    Pipeline,
    binding_sources,
    encode_manifest,
)
from pipec.manifest import Node as ModelNode

MISSING = object()

SCRIPT = '''\
"""Test step {name}: follows the pipec step-script contract."""

import argparse
import ast
import hashlib
import json
import os
import sys
import tempfile

import cloudpickle

OUTPUTS = {outputs!r}


def _load(path):
    meta_path = path + ".meta.json"
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
        here = "%d.%d" % sys.version_info[:2]
        if meta["python"] != here or meta["cloudpickle"] != cloudpickle.__version__:
            print(
                "error: input %s was written by Python %s with cloudpickle %s; this is Python %s "
                "with cloudpickle %s" % (path, meta["python"], meta["cloudpickle"], here,
                                         cloudpickle.__version__),
                file=sys.stderr,
            )
            sys.exit(3)
    with open(path, "rb") as handle:
        return cloudpickle.load(handle)


def _write(path, value):
    data = cloudpickle.dumps(value)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    meta = {{
        "format": "cloudpickle",
        "python": "%d.%d" % sys.version_info[:2],
        "cloudpickle": cloudpickle.__version__,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }}
    fd, tmp = tempfile.mkstemp(dir=folder)
    with os.fdopen(fd, "w") as handle:
        json.dump(meta, handle)
    os.replace(tmp, path + ".meta.json")


{code}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--value", action="append", default=[])
    parser.add_argument("--output", action="append", default=[])
    args = parser.parse_args()
    kwargs = {{}}
    for item in args.input:
        name, _, path = item.partition("=")
        kwargs[name] = _load(path)
    for item in args.value:
        name, _, text = item.partition("=")
        kwargs[name] = ast.literal_eval(text)
    targets = dict(item.split("=", 1) for item in args.output)
    result = step(**kwargs)
    if not OUTPUTS:
        return
    values = [result] if len(OUTPUTS) == 1 else list(result)
    if len(values) != len(OUTPUTS):
        print("step returned %d values for outputs %s" % (len(values), OUTPUTS), file=sys.stderr)
        sys.exit(1)
    for name, value in zip(OUTPUTS, values):
        _write(targets.get(name, "./%s.pkl" % name), value)


if __name__ == "__main__":
    main()
'''


def out(node: str, output: str = "return_object") -> Binding:
    return OutputRef(node, output)


def param(name: str) -> Binding:
    return ParamRef(name)


def value(literal: object) -> Binding:
    return Literal.of(literal)


@dataclass
class Node:
    name: str
    code: str = "def step():\n    return None"
    inputs: dict[str, Binding] = field(default_factory=dict)
    outputs: Sequence[str] = ("return_object",)
    after: Sequence[str] = ()
    kind: str = "step"
    effects: bool = False
    cache: bool = False
    retry: int = 0
    requirements: Sequence[str] = ()
    raw_script: str | None = None  # a script that does not follow the template
    local_modules: Sequence[str] = ()  # e.g. "steps/helpers.py", written by the test
    imports: Sequence[str] | None = None  # the manifest's "imports" (what a warm start preloads)


@dataclass
class Param:
    name: str
    annotation: str | None = None
    default: object = MISSING


def write_build(
    root: Path,
    nodes: Sequence[Node],
    params: Sequence[Param] = (),
    abort_on_failure: bool = False,
    result: Binding | None = None,
    edit: Callable[[dict[str, object]], None] | None = None,
) -> Path:
    """Write ``root/manifest.json`` (the build model, encoded as pipec writes it) and
    ``root/steps/<node>.py``; ``edit`` may spoil the manifest's JSON before it is written."""
    steps = root / "steps"
    steps.mkdir(parents=True, exist_ok=True)
    model_nodes = []
    edges: dict[tuple[str, str], Edge] = {}
    for index, node in enumerate(nodes):
        script = node.raw_script or SCRIPT.format(
            name=node.name, outputs=list(node.outputs), code=textwrap.dedent(node.code).strip()
        )
        path = steps / f"{node.name}.py"
        path.write_text(script, encoding="utf-8")
        for binding in node.inputs.values():
            for source in binding_sources(binding)[0]:
                edges.setdefault((source, node.name), Edge(source, node.name, EdgeKind.DATA))
        for other in node.after:
            edges.setdefault((other, node.name), Edge(other, node.name, EdgeKind.ORDER))
        model_nodes.append(
            ModelNode(
                name=node.name,
                kind=NodeKind(node.kind),
                script=f"steps/{node.name}.py",
                function="step" if node.kind == "step" else None,
                inputs=dict(node.inputs),
                outputs=tuple(node.outputs),
                after=tuple(node.after),
                effects=node.effects,
                requirements=tuple(node.requirements),
                requirements_file=f"requirements/{node.name}.txt",
                options={"cache": node.cache} if node.cache else {},
                cache=node.cache,
                retry_on_failure=node.retry,
                queue=None,
                source=Location("pipeline.py", 10 + index, 1),
                code_sha256=hashlib.sha256(script.encode("utf-8")).hexdigest(),
                local_modules=tuple(node.local_modules),
                imports=tuple(node.imports or ()),
            )
        )
    manifest = Manifest(
        generator="tests/runtime/buildkit.py",
        pipeline=Pipeline(
            name="test-pipeline",
            project=None,
            version=None,
            function="pipeline",
            abort_on_failure=abort_on_failure,
            default_queue=None,
            options={},
            source=Location("pipeline.py", 1, 1),
        ),
        parameters=tuple(
            Parameter(
                name=p.name,
                annotation=p.annotation,
                default=None if p.default is MISSING else Literal.of(p.default),
                required=p.default is MISSING,
            )
            for p in params
        ),
        nodes=tuple(model_nodes),
        edges=tuple(edges.values()),
        result=result,
        requirements_file="requirements.txt",
    )
    encoded = encode_manifest(manifest)
    if edit is not None:
        edit(encoded)
    (root / "manifest.json").write_text(json.dumps(encoded, indent=2), encoding="utf-8")
    return root


# -- running pipec ----------------------------------------------------------------------

DRIVER = (
    "import argparse, sys\n"
    "from pipec import commands\n"
    "parser = argparse.ArgumentParser(prog='pipec')\n"
    "commands.register(parser.add_subparsers(required=True))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)


def pipec_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", DRIVER, *map(str, args)]


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """An environment that keeps every cache inside the test's temporary folder."""
    env = dict(os.environ)
    env["PIPEC_CACHE_DIR"] = str(tmp_path / "cache")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    return env


def pipec(
    tmp_path: Path, *args: str | Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pipec_argv(*args),
        capture_output=True,
        text=True,
        env=isolated_env(tmp_path),
        timeout=timeout,
        check=False,
    )


def start_pipec(tmp_path: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        pipec_argv(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=isolated_env(tmp_path),
    )


def runs(build: Path) -> list[Path]:
    folder = build / "runs"
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def record(run_dir: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return data


def only_run(build: Path) -> dict[str, object]:
    found = runs(build)
    assert len(found) == 1, found
    return record(found[0])


def node_states(data: dict[str, object]) -> dict[str, str]:
    nodes = data["nodes"]
    assert isinstance(nodes, dict)
    return {name: node["state"] for name, node in nodes.items()}


def wait_for(predicate: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Poll until ``predicate`` holds; a generous limit only keeps a broken test from hanging."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its parent counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
