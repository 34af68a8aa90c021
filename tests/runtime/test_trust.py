"""Foreign and damaged state: kept artifacts are verified by content, manifest names cannot
reach outside the build, symlinks out of the build are refused, a resume prints what an
uninterrupted run prints, and inspect loads only what the run vouches for."""

from __future__ import annotations

import json
from pathlib import Path

import cloudpickle
import pytest
from buildkit import Node, Param, node_states, out, param, pipec, record, runs, value, write_build

from pipec.paths import PathEscape, inside

TOTAL = "def step(n):\n    return float(sum(range(n)))"
# Fails while the flag file exists: the test's way of making a run fail, then resume it.
FLAGGED = """
import os

def step(x, flag):
    if os.path.exists(flag):
        raise SystemExit("flagged")
    return x
"""


def _sum_build(tmp_path: Path) -> tuple[Path, Path]:
    flag = tmp_path / "fail"
    build = write_build(
        tmp_path / "build",
        [
            Node("total", TOTAL, inputs={"n": param("n")}),
            Node("copy", FLAGGED, cache=True, inputs={"x": out("total"), "flag": value(str(flag))}),
            Node(
                "report",
                "def step(s):\n    print(f'sum={s}')",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"s": out("copy")},
            ),
        ],
        params=[Param("n", "int", 100000)],
    )
    return build, flag


def test_a_kept_artifact_altered_to_the_same_size_is_recomputed_not_cached(tmp_path: Path):
    build, flag = _sum_build(tmp_path)
    flag.touch()
    assert pipec(tmp_path, "run", build).returncode == 1
    run_dir = runs(build)[0]
    artifact = run_dir / "artifacts" / "total" / "return_object.pkl"
    planted = cloudpickle.dumps(1234567.0)
    assert len(planted) == artifact.stat().st_size  # same size: the old check kept it
    artifact.write_bytes(planted)  # the meta file still describes the genuine bytes
    flag.unlink()

    resumed = pipec(tmp_path, "run", build, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "total: return_object.pkl no longer has the bytes it was written with" in resumed.stderr
    assert resumed.stdout == "sum=4999950000.0\n"
    assert node_states(record(run_dir))["total"] == "succeeded"

    fresh = pipec(tmp_path, "run", build)  # served from the cache: the entry holds the truth
    assert fresh.returncode == 0, fresh.stderr
    assert "cached copy" in fresh.stderr
    assert fresh.stdout == "sum=4999950000.0\n"


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("input", "/abs/path/victim"),
        ("input", "../../x"),
        ("output", ".."),
        ("output", ""),
    ],
)
def test_a_path_like_name_in_the_manifest_is_refused(tmp_path: Path, where: str, name: str):
    def edit(manifest: dict[str, object]) -> None:
        (node,) = manifest["nodes"]  # type: ignore[misc]
        if where == "input":
            node["inputs"] = {name: {"list": [{"value": 1}]}}
        else:
            node["outputs"] = [name]

    build = write_build(tmp_path / "deep" / "er" / "build", [Node("a")], edit=edit)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert repr(name) in done.stderr
    assert not (build / "runs").exists()
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}
    assert not any("victim" in str(p) or "escaped" in str(p) or p.name == "x" for p in written)


def test_inside_refuses_every_way_out(tmp_path: Path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "out").symlink_to(tmp_path)
    assert inside(root, "sub/file.pkl") == root / "sub" / "file.pkl"
    for escaping in ("../x", "/etc/passwd", "sub/../../x", "sub/out/x", "a\0b"):
        with pytest.raises(PathEscape):
            inside(root, escaping)


@pytest.mark.parametrize("what", ["script", "local module"])
def test_a_script_or_module_symlinked_out_of_the_build_is_refused(tmp_path: Path, what: str):
    marker = tmp_path / "ran"
    outside = tmp_path / "outside.py"
    outside.write_text(f"open({str(marker)!r}, 'w').close()\n")
    modules = ("steps/helper.py",) if what == "local module" else ()
    build = write_build(tmp_path / "build", [Node("a", local_modules=modules)])
    target = build / ("steps/helper.py" if modules else "steps/a.py")
    target.unlink(missing_ok=True)
    target.symlink_to(outside)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 2, done.stderr
    assert f"{what} 'steps/" in done.stderr and "inside the build folder" in done.stderr
    assert not marker.exists()


def test_a_resumed_run_prints_what_an_uninterrupted_run_prints(tmp_path: Path):
    flag = tmp_path / "fail"
    build = write_build(
        tmp_path / "build",
        [
            Node("first", "def step():\n    return 3"),
            Node(
                "hello",
                "def step(x):\n    print('before', x)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"x": out("first")},
            ),
            Node("second", FLAGGED, inputs={"x": out("first"), "flag": value(str(flag))}),
            Node(
                "bye",
                "def step(y):\n    print('after', y)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"y": out("second")},
                after=("hello",),
            ),
        ],
    )
    uninterrupted = pipec(tmp_path, "run", build)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    flag.touch()
    failed = pipec(tmp_path, "run", build)
    assert failed.returncode == 1 and failed.stdout == "before 3\n"
    flag.unlink()
    resumed = pipec(tmp_path, "run", build, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "keeping 2 finished step(s)" in resumed.stderr  # hello was not run again
    assert resumed.stdout == uninterrupted.stdout == "before 3\nafter 3\n"


def _one_artifact_run(tmp_path: Path) -> Path:
    build = write_build(tmp_path / "build", [Node("a", "def step():\n    return {'k': 1}")])
    assert pipec(tmp_path, "run", build).returncode == 0
    return runs(build)[0]


def test_inspect_loads_only_a_file_inside_the_run_with_the_recorded_hash(tmp_path: Path):
    run_dir = _one_artifact_run(tmp_path)
    assert pipec(tmp_path, "inspect", run_dir, "a").stdout == "{'k': 1}\n"
    artifact = run_dir / "artifacts" / "a" / "return_object.pkl"
    marker = tmp_path / "unpickled"
    planted = tmp_path / "planted.pkl"
    planted.write_bytes(
        b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    )  # a pickle that runs a command when loaded

    data = record(run_dir)
    data["nodes"]["a"]["outputs"]["return_object"]["path"] = "../../planted.pkl"  # type: ignore[index]
    (run_dir / "run.json").write_text(json.dumps(data))
    outside = pipec(tmp_path, "inspect", run_dir, "a")
    assert outside.returncode == 2 and "outside the run folder" in outside.stderr

    data["nodes"]["a"]["outputs"]["return_object"]["path"] = str(artifact.relative_to(run_dir))  # type: ignore[index]
    (run_dir / "run.json").write_text(json.dumps(data))
    artifact.write_bytes(planted.read_bytes())
    changed = pipec(tmp_path, "inspect", run_dir, "a")
    assert changed.returncode == 2 and "changed after the run wrote it" in changed.stderr
    assert not marker.exists()

    helped = pipec(tmp_path, "inspect", "--help")
    assert "can run code" in " ".join(helped.stdout.split())
