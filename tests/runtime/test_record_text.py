"""run.json keeps its layout while only the nodes that changed are encoded again per write."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from buildkit import Node, out, pipec, record, write_build
from runtime_fakes import run_record

from pipec.record import (
    ArtifactInfo,
    NodeRecord,
    NodeState,
    RecordEncoder,
    read_record,
    record_to_json,
)
from pipec.record_keeping import LiveRecord


def _as_json_writes_it(path: Path) -> str:
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), indent=2) + "\n"


def test_each_write_is_the_indented_json_of_the_whole_record(tmp_path: Path):
    names = ["a", "b[0]", 'quote"d', "ünï", "nodes"]
    live = LiveRecord(tmp_path, run_record({name: NodeRecord() for name in names}))
    path = tmp_path / "run.json"
    encoder = RecordEncoder()
    steps = [
        ("a", {"state": NodeState.RUNNING, "start": "2026-01-01T00:00:01+00:00"}),
        ("b[0]", {"state": NodeState.FAILED, "message": 'said "no"\nthen\tstopped'}),
        (
            "a",
            {
                "state": NodeState.SUCCEEDED,
                "outputs": {"out": ArtifactInfo("artifacts/a/out.pkl", 12, "f" * 64)},
                "duration": 0.25,
            },
        ),
        ("ünï", {"state": NodeState.SKIPPED, "message": "upstream node 'b[0]' failed"}),
        ("nodes", {"decision": True, "elements": 3}),
    ]
    for name, changes in steps:
        live.update(name, **changes)
        live.flush()
        expected = json.dumps(record_to_json(live.current), indent=2) + "\n"
        assert path.read_text(encoding="utf-8") == expected
        assert encoder.text(live.current) == expected
        assert read_record(tmp_path) == live.current
    parameters = {"nodes": {"value": {}}, "deep": {"value": {"nodes": {}}}}
    live.save(dataclasses.replace(live.current, parameters=parameters, nodes={}))
    assert path.read_text(encoding="utf-8") == _as_json_writes_it(path)
    assert read_record(tmp_path).parameters == parameters


def test_the_record_of_a_real_run_has_the_layout_it_had(tmp_path: Path):
    nodes = [
        Node("first", "def step():\n    return 1"),
        Node("second", "def step(x):\n    return x + 1", inputs={"x": out("first")}),
        Node("fails", "def step(x):\n    raise ValueError(x)", inputs={"x": out("second")}),
    ]
    build = write_build(tmp_path / "build", nodes)
    done = pipec(tmp_path, "run", build, "--runs-dir", str(tmp_path / "runs"), "--no-cache")
    assert done.returncode == 1, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "run.json").read_text(encoding="utf-8") == _as_json_writes_it(
        run_dir / "run.json"
    )
    states = {name: node["state"] for name, node in record(run_dir)["nodes"].items()}  # type: ignore[attr-defined]
    assert states == {"first": "succeeded", "second": "succeeded", "fails": "failed"}
