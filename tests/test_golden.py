"""Golden build trees of the examples: staleness, schema, determinism, and lint of what is generated."""

from __future__ import annotations

import difflib
import hashlib
import json
import py_compile
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import run_pipec
from golden_build import (
    GOLDEN,
    REGENERATE,
    REPO,
    build_example,
    example_names,
    read_tree,
    write_tree,
)

from pipec.manifest import EdgeKind, binding_sources, load_manifest

EXAMPLES = example_names()
SCHEMA = json.loads((REPO / "runtime" / "manifest.schema.json").read_text())


def _diff(relative: str, expected: bytes | None, actual: bytes | None) -> str:
    def lines(data: bytes | None) -> list[str]:
        return [] if data is None else data.decode("utf-8", "replace").splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(
            lines(expected), lines(actual), f"golden/{relative}", f"built/{relative}"
        )
    )


def _tree_differences(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    problems = []
    for relative in sorted(set(expected) | set(actual)):
        want, got = expected.get(relative), actual.get(relative)
        if want == got:
            continue
        if want is None:
            problems.append(f"added: {relative}\n{_diff(relative, None, got)}")
        elif got is None:
            problems.append(f"missing: {relative}")
        else:
            problems.append(f"changed: {relative}\n{_diff(relative, want, got)}")
    return problems


def test_every_example_has_a_golden_tree():
    assert EXAMPLES, "no examples/*/pipeline.py found"
    golden = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
    assert golden == EXAMPLES, (
        f"golden trees {golden} do not match examples {EXAMPLES}; run `{REGENERATE}`"
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_tree_is_up_to_date(example: str, tmp_path: Path):
    write_tree(build_example(example).files, tmp_path)
    problems = _tree_differences(read_tree(GOLDEN / example), read_tree(tmp_path))
    if problems:
        pytest.fail(
            f"the golden build of examples/{example} is stale:\n\n"
            + "\n".join(problems)
            + f"\nIf the change is intended, regenerate with: {REGENERATE}",
            pytrace=False,
        )


@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_manifest_follows_the_schema(example: str):
    manifest = json.loads((GOLDEN / example / "manifest.json").read_text())
    jsonschema.validate(manifest, SCHEMA)


@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_edges_agree_with_inputs_and_after(example: str):
    """Every dependency the runtime reads from a node is an edge of the right kind, and no more."""
    manifest = load_manifest(GOLDEN / example)
    expected = set()
    for node in manifest.nodes:
        data: set[str] = {node.map} if node.map else set()
        guards = {guard.node for guard in node.when}
        for binding in node.inputs.values():
            read, decided = binding_sources(binding)
            data |= read
            guards |= decided
        expected |= {(source, node.name, EdgeKind.DATA) for source in data}
        expected |= {(source, node.name, EdgeKind.GUARD) for source in guards - data}
        expected |= {(b, node.name, EdgeKind.ORDER) for b in set(node.after) - data - guards}
    edges = [(e.source, e.target, e.kind) for e in manifest.edges]
    assert len(edges) == len(set(edges)), "duplicate edges"
    assert set(edges) == expected
    # Node order is program order, so every dependency points backwards.
    names = manifest.node_names
    assert all(names.index(source) < names.index(target) for source, target, _ in edges)


@pytest.mark.parametrize("example", EXAMPLES)
def test_golden_manifest_paths_are_relative_and_exist(example: str):
    folder = GOLDEN / example
    manifest = json.loads((folder / "manifest.json").read_text())
    for node in manifest["nodes"]:
        script = folder / node["script"]
        assert not Path(node["script"]).is_absolute() and script.is_file()
        assert hashlib.sha256(script.read_bytes()).hexdigest() == node["code_sha256"]
        assert (folder / node["requirements_file"]).is_file()
    assert (folder / manifest["requirements_file"]).is_file()
    for data in read_tree(folder).values():
        assert str(REPO).encode() not in data, "a golden file holds an absolute path of this host"


@pytest.mark.parametrize("example", EXAMPLES)
def test_two_builds_are_byte_identical(example: str):
    first, second = build_example(example), build_example(example)
    assert dict(first.files) == dict(second.files)


def test_cli_builds_in_two_folders_are_identical(tmp_path: Path):
    for example in EXAMPLES:
        trees = []
        # Different hash seeds: set iteration order must not leak into the output.
        for folder, seed in (("one", "1"), ("two", "2")):
            out = tmp_path / folder / example
            done = run_pipec(
                "build", f"examples/{example}/pipeline.py", "-o", out, env={"PYTHONHASHSEED": seed}
            )
            assert done.returncode == 0, done.stderr
            trees.append(read_tree(out))
        assert trees[0] == trees[1], _tree_differences(trees[0], trees[1])


def test_generated_python_compiles_and_passes_ruff(tmp_path: Path):
    for example in EXAMPLES:
        write_tree(build_example(example).files, tmp_path / example)
    scripts = sorted(tmp_path.rglob("*.py"))
    assert scripts
    for script in scripts:
        py_compile.compile(str(script), cfile=str(tmp_path / "compiled.pyc"), doraise=True)
    (tmp_path / "compiled.pyc").unlink()
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    done = subprocess.run(
        [*command, "check", "--isolated", "--no-cache", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
