"""In-memory stand-ins for the runtime's unit tests: an artifact store, tiny manifests, records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pipec.literals import Literal
from pipec.manifest import (
    Binding,
    Guard,
    Location,
    Manifest,
    Node,
    NodeKind,
    Pipeline,
)
from pipec.record import ArtifactInfo, InterpreterInfo, NodeRecord, RunRecord, RunState
from pipec.store import StoreError

HERE = Location("pipeline.py", 1, 1)
FAKE_ROOT = Path("/fake-store")
PYTHON = InterpreterInfo("/usr/bin/python3", "3.11.9", "cpython", "3.1.1")


class FakeStore:
    """An :class:`~pipec.store.ArtifactStore` that keeps everything in dictionaries."""

    def __init__(self) -> None:
        self.written: dict[tuple[str, str], ArtifactInfo] = {}
        self.decisions: dict[str, bool] = {}
        self.elements: dict[str, list[ArtifactInfo]] = {}
        self.specs: dict[tuple[str, str], object] = {}

    def location(self, node: str, output: str) -> str:
        return f"mem://{node}/{output}"

    def describe(self, node: str, output: str) -> ArtifactInfo:
        try:
            return self.written[node, output]
        except KeyError:
            raise StoreError(f"{node}.{output} is missing") from None

    def intact(self, node: str, output: str, expected: ArtifactInfo) -> bool:
        return self.written.get((node, output)) == expected

    def adopt(self, node: str, output: str, source: Path) -> ArtifactInfo:
        raise NotImplementedError

    def local_file(self, node: str, output: str) -> Path:
        return FAKE_ROOT / node / output

    def local_element_file(self, node: str, output: str, index: int) -> Path:
        return FAKE_ROOT / node / output / str(index)

    def content_sha256(self, path: Path) -> str | None:
        """What hashing :meth:`local_file`'s file would give: the hash of what is written."""
        node, *rest = path.relative_to(FAKE_ROOT).parts
        if rest[0] == "items" and node in self.elements:
            index = int(rest[1])
            found = self.elements[node]
            return found[index].sha256 if index < len(found) else None
        written = self.written.get((node, "/".join(rest)))
        return None if written is None else written.sha256

    def decision_location(self, node: str, output: str) -> str:
        return f"mem://{node}/{output}.json"

    def read_decision(self, node: str, output: str) -> tuple[bool, ArtifactInfo]:
        if node not in self.decisions:
            raise StoreError(f"{node} decided nothing")
        return self.decisions[node], ArtifactInfo(f"artifacts/{node}/{output}.json", 4, "d" * 64)

    def folder_location(self, node: str, output: str) -> str:
        return f"mem://{node}/{output}/"

    def read_elements(self, node: str, output: str) -> tuple[str, list[ArtifactInfo]]:
        if node not in self.elements:
            raise StoreError(f"{node} exploded nothing")
        return f"artifacts/{node}/{output}", self.elements[node]

    def element_location(self, node: str, output: str, index: int) -> str:
        return f"mem://{node}/{output}/{index}"

    def write_input_spec(self, node: str, argument: str, description: object) -> str:
        self.specs[node, argument] = description
        return f"mem://inputs/{node}/{argument}.json"


def info(name: str, size: int = 10) -> ArtifactInfo:
    """An artifact entry whose hash is made from ``name``."""
    return ArtifactInfo(f"artifacts/{name}.pkl", size, (name.encode().hex() * 64)[:64])


def literal(value: object) -> Literal:
    return Literal(value, repr(value))


def node(
    name: str,
    inputs: Mapping[str, Binding] | None = None,
    *,
    kind: NodeKind = NodeKind.STEP,
    outputs: Sequence[str] = ("return_object",),
    map: str | None = None,
    when: Sequence[Guard] = (),
    cache: bool = True,
    requirements: Sequence[str] = (),
    local_modules: Sequence[str] = (),
    retry: int = 0,
) -> Node:
    return Node(
        name=name,
        kind=kind,
        script=f"steps/{name}.py",
        function="step" if kind is NodeKind.STEP else None,
        inputs=dict(inputs or {}),
        outputs=tuple(outputs),
        after=(),
        effects=False,
        requirements=tuple(requirements),
        requirements_file=f"requirements/{name}.txt",
        options={},
        cache=cache,
        retry_on_failure=retry,
        queue=None,
        source=HERE,
        code_sha256="c" * 64,
        when=tuple(when),
        map=map,
        local_modules=tuple(local_modules),
    )


def manifest(*nodes: Node, result: Binding | None = None) -> Manifest:
    """A manifest of ``nodes`` (no edges: :meth:`Manifest.dependencies` reads the bindings)."""
    pipeline = Pipeline("test", None, None, "pipeline", False, None, {}, HERE)
    return Manifest(
        generator="test",
        pipeline=pipeline,
        parameters=(),
        nodes=nodes,
        edges=(),
        result=result,
        requirements_file="r.txt",
        build_dir=Path("/build"),
        sha256="m" * 64,
    )


def run_record(nodes: Mapping[str, NodeRecord]) -> RunRecord:
    return RunRecord(
        run_id="run-1",
        build_dir="/build",
        manifest_sha256="m" * 64,
        pipeline="test",
        state=RunState.RUNNING,
        created="2026-01-01T00:00:00+00:00",
        updated="2026-01-01T00:00:00+00:00",
        ended=None,
        pid=1,
        host="here",
        sessions=1,
        python=PYTHON,
        parameters={},
        options={},
        nodes=dict(nodes),
    )
