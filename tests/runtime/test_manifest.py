"""A build folder that cannot run is refused with a clear message and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from buildkit import Node, out, pipec, runs, write_build


def _nodes() -> list[Node]:
    return [Node("a"), Node("b", "def step(x):\n    return x", inputs={"x": out("a")})]


def _refused(tmp_path: Path, edit, *expected: str) -> None:
    build = write_build(tmp_path / "build", _nodes(), edit=edit)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2, done.stderr
    for text in expected:
        assert text in done.stderr
    assert "Traceback" not in done.stderr
    assert runs(build) == []


def test_another_schema_version(tmp_path: Path):
    _refused(
        tmp_path,
        lambda m: m.update(schema_version=2),
        "schema_version is 2, this runtime reads version 1",
        "rebuild",
    )


def test_a_missing_field_and_a_wrong_type_are_both_reported(tmp_path: Path):
    def edit(manifest):
        del manifest["nodes"][0]["outputs"]
        manifest["nodes"][1]["retry_on_failure"] = "twice"

    _refused(
        tmp_path,
        edit,
        "manifest.nodes[0]: missing required field 'outputs'",
        "manifest.nodes[1].retry_on_failure: must be integer",
        "2 problem(s)",
    )


def test_a_missing_script(tmp_path: Path):
    build = write_build(tmp_path / "build", _nodes())
    (build / "steps" / "b.py").unlink()
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2
    assert "node 'b': script 'steps/b.py' is missing" in done.stderr


def test_unknown_node_references(tmp_path: Path):
    def edit(manifest):
        manifest["nodes"][1]["inputs"]["x"] = {"node": "ghost", "output": "return_object"}
        manifest["nodes"][1]["after"] = ["phantom"]

    _refused(
        tmp_path,
        edit,
        "node 'b' input 'x' reads node 'ghost', which does not exist",
        "node 'b' runs after 'phantom', which does not exist",
    )


def test_an_unknown_output(tmp_path: Path):
    def edit(manifest):
        manifest["nodes"][1]["inputs"]["x"] = {"node": "a", "output": "nope"}

    _refused(tmp_path, edit, "reads a.nope, but 'a' only has outputs ['return_object']")


def test_a_cycle(tmp_path: Path):
    def edit(manifest):
        manifest["nodes"][0]["after"] = ["b"]
        manifest["edges"].append({"from": "b", "to": "a", "kind": "order"})

    _refused(tmp_path, edit, "the nodes form a cycle")


def test_a_script_outside_the_build(tmp_path: Path):
    _refused(
        tmp_path,
        lambda m: m["nodes"][0].update(script="../evil.py"),
        "must be a path inside the build folder",
    )


@pytest.mark.parametrize("content", ["", "{not json", "[]"])
def test_not_a_manifest(tmp_path: Path, content: str):
    build = tmp_path / "build"
    build.mkdir()
    (build / "manifest.json").write_text(content)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_not_a_build_folder(tmp_path: Path):
    done = pipec(tmp_path, "run", tmp_path / "nowhere")
    assert done.returncode == 2
    assert "no such build folder" in done.stderr


def test_the_hand_made_manifests_match_the_shipped_schema(tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (Path(__file__).parents[2] / "runtime" / "manifest.schema.json").read_text()
    )
    build = write_build(tmp_path / "build", _nodes())
    jsonschema.validate(json.loads((build / "manifest.json").read_text()), schema)


def test_broken_control_flow_is_refused_with_every_problem(tmp_path: Path):
    def edit(manifest):
        a, b = manifest["nodes"]
        b["when"] = [{"node": "a", "value": True}]
        b["map"] = "a"
        b["inputs"]["y"] = {"item": "ghost_map"}
        b["inputs"]["z"] = {"gather": {"map": "a", "node": "b", "output": "return_object"}}
        b["local_modules"] = ["steps/missing_module.py"]
        a["inputs"]["w"] = {
            "select": [{"when": [{"node": "nope", "value": False}], "binding": {"value": 1}}]
        }
        a["kind"] = "condition"

    _refused(
        tmp_path,
        edit,
        "node 'a' is a condition node; its only output must be 'decision'",
        "node 'b' input 'y' reads an element of map 'ghost_map' but is not in that map's body",
        "node 'b' is in the body of 'a', which is not a map node",
        "gathers over 'a', which is not a map node",
        "local module 'steps/missing_module.py' is missing",
        "node 'a' input 'w' (a select option) is guarded by node 'nope', which does not exist",
    )


def test_a_body_node_read_without_gather_is_refused(tmp_path: Path):
    def edit(manifest):
        a, b = manifest["nodes"]
        a["map"] = "m"
        manifest["nodes"].insert(
            0,
            {
                **b,
                "name": "m",
                "kind": "map",
                "inputs": {"over": {"value": [1]}},
                "outputs": ["items"],
                "script": "steps/a.py",
            },
        )

    _refused(
        tmp_path,
        edit,
        "node 'b' input 'x' reads a.return_object, which runs once per element of map 'm'; "
        "read it with a gather binding",
    )
