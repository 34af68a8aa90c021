"""The build model is defined once (`pipec.manifest`): the shipped schema, the model's fields and
its codec agree, and the manifests the compiler writes read back into the same model."""

from __future__ import annotations

import dataclasses
import json

import pytest
from golden_build import GOLDEN, REPO, example_names

from pipec.manifest import (
    Edge,
    Manifest,
    Node,
    Parameter,
    Pipeline,
    encode_manifest,
    load_manifest,
)

SCHEMA = json.loads((REPO / "runtime" / "manifest.schema.json").read_text())
# Fields the model holds that are not written: where a manifest was read from, and its hash.
LOADING_ONLY = {"build_dir", "sha256"}
# Fields added after schema version 1 was first written: optional, so older builds still run.
ADDED_LATER = {"imports", "python"}
# Written names that differ from the model's field names.
RENAMED = {"source": "from", "target": "to"}


def _fields(model: type) -> set[str]:
    return {
        RENAMED.get(f.name, f.name) if model is Edge else f.name for f in dataclasses.fields(model)
    }


def _schema_object(*path: str) -> dict:
    found = SCHEMA
    for step in path:
        found = found[step]
    return found.get("items", found)


@pytest.mark.parametrize(
    ("model", "path", "extra"),
    [
        (Manifest, (), {"schema_version"}),
        (Pipeline, ("properties", "pipeline"), set()),
        (Parameter, ("properties", "parameters"), set()),
        (Edge, ("properties", "edges"), set()),
        (Node, ("$defs", "node"), set()),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_the_schema_names_exactly_the_model_fields(model, path, extra):
    schema = _schema_object(*path)
    assert set(schema["properties"]) == _fields(model) - LOADING_ONLY | extra
    assert set(schema["required"]) == set(schema["properties"]) - ADDED_LATER
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("example", example_names())
def test_a_written_manifest_reads_back_into_the_model_and_encodes_to_the_same_json(example):
    folder = GOLDEN / example
    written = json.loads((folder / "manifest.json").read_text())
    assert encode_manifest(load_manifest(folder)) == written


def test_the_encoder_writes_every_field_the_schema_lists():
    manifest = load_manifest(GOLDEN / example_names()[0])
    encoded = encode_manifest(manifest)
    assert set(encoded) == set(SCHEMA["properties"])
    assert set(encoded["nodes"][0]) == set(_schema_object("$defs", "node")["properties"])


def test_no_other_module_defines_the_contract_names():
    contract = {"NodeKind", "Guard", "Location", "SCHEMA_VERSION", "encode_literal", "Binding"}
    defined: dict[str, list[str]] = {}
    for folder in ("compiler", "runtime", "tests", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for line in path.read_text(encoding="utf-8").splitlines():
                for name in contract:
                    if line.startswith((f"class {name}", f"def {name}(", f"{name} =", f"{name}: ")):
                        defined.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert {name: places for name, places in defined.items() if len(places) > 1} == {}
    assert all(
        places[0] in ("runtime/manifest.py", "runtime/literals.py") for places in defined.values()
    )


def test_the_golden_examples_pin_every_node_kind():
    kinds = {
        node["kind"]
        for example in example_names()
        for node in json.loads((GOLDEN / example / "manifest.json").read_text())["nodes"]
    }
    assert kinds == {"step", "glue", "condition", "map"}
