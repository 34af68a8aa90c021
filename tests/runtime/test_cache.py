"""The step cache: hit, miss, corruption, --refresh and --no-cache."""

from __future__ import annotations

from pathlib import Path

from buildkit import Node, Param, out, param, pipec, record, runs, value, write_build

# The counter's path is given with a prefix: a string naming a file the step writes would put
# that file's size and time in the key (data by path), and each count would miss the cache.
COUNTED = """
def step(counter, n):
    with open(counter.removeprefix("count:"), "a") as f:
        f.write("x")
    return list(range(n))
"""


def _build(tmp_path: Path) -> tuple[Path, Path]:
    counter = tmp_path / "executions"
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "expensive",
                COUNTED,
                cache=True,
                inputs={"counter": value(f"count:{counter}"), "n": param("n")},
            ),
            Node(
                "report",
                "def step(xs):\n    print(sum(xs))",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"xs": out("expensive")},
            ),
        ],
        params=[Param("n", "int", 4)],
    )
    return build, counter


def _latest(build: Path) -> dict:
    return record(runs(build)[-1])["nodes"]["expensive"]


def _cache_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("return_object.pkl"))


def test_a_second_run_is_served_from_the_cache(tmp_path: Path):
    build, counter = _build(tmp_path)
    first = pipec(tmp_path, "run", build)
    assert first.returncode == 0, first.stderr
    second = pipec(tmp_path, "run", build)
    assert second.returncode == 0, second.stderr
    assert counter.read_text() == "x"
    assert first.stdout == second.stdout == "6\n"
    node = _latest(build)
    assert node["state"] == "cached" and node["cache_hit"] is True
    assert "cached expensive" in second.stderr
    first_out = record(runs(build)[0])["nodes"]["expensive"]["outputs"]["return_object"]
    assert node["outputs"]["return_object"]["sha256"] == first_out["sha256"]
    assert (runs(build)[-1] / node["outputs"]["return_object"]["path"]).is_file()
    assert len(_cache_files(tmp_path)) == 1  # everything stayed inside tmp_path
    assert not (tmp_path / "xdg-cache").exists()


def test_a_different_parameter_misses(tmp_path: Path):
    build, counter = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    assert pipec(tmp_path, "run", build, "--param", "n=5").returncode == 0
    assert counter.read_text() == "xx"
    assert _latest(build)["cache_hit"] is False


def test_no_cache_and_refresh_force_the_work(tmp_path: Path):
    build, counter = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    assert pipec(tmp_path, "run", build, "--no-cache").returncode == 0
    assert counter.read_text() == "xx"
    assert _latest(build)["state"] == "succeeded"
    refreshed = pipec(tmp_path, "run", build, "--refresh", "expensive")
    assert refreshed.returncode == 0, refreshed.stderr
    assert counter.read_text() == "xxx"
    assert _latest(build)["state"] == "succeeded"
    unknown = pipec(tmp_path, "run", build, "--refresh", "nope")
    assert unknown.returncode == 2 and "no such node" in unknown.stderr


def test_a_corrupted_entry_is_reported_and_recomputed(tmp_path: Path):
    build, counter = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    (entry_file,) = _cache_files(tmp_path)
    entry_file.unlink()  # replace the bytes without touching the run's hard-linked copy
    entry_file.write_bytes(b"not what was stored")
    again = pipec(tmp_path, "run", build)
    assert again.returncode == 0, again.stderr
    assert "is corrupted" in again.stderr and "recomputing" in again.stderr
    assert counter.read_text() == "xx"
    assert _latest(build)["state"] == "succeeded"
    assert again.stdout == "6\n"
    third = pipec(tmp_path, "run", build)
    assert _latest(build)["state"] == "cached" and "is corrupted" not in third.stderr
    assert counter.read_text() == "xx"


def test_an_edited_script_misses(tmp_path: Path):
    build, counter = _build(tmp_path)
    assert pipec(tmp_path, "run", build).returncode == 0
    script = build / "steps" / "expensive.py"
    script.write_text(script.read_text() + "\n# edited\n")
    edited = pipec(tmp_path, "run", build)
    assert edited.returncode == 0
    assert "changed after the build" in edited.stderr
    assert counter.read_text() == "xx"


def test_refresh_replaces_a_stale_entry(tmp_path: Path):
    data = tmp_path / "data.txt"
    data.write_text("old")
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "read",
                # A path written inside the step's body: the key cannot see the file.
                f"def step():\n    with open({str(data)!r}) as f:\n        return f.read()",
                cache=True,
            ),
            Node(
                "say",
                "def step(text):\n    print(text)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"text": out("read")},
            ),
        ],
    )
    assert pipec(tmp_path, "run", build).stdout == "old\n"
    data.write_text("new")
    assert pipec(tmp_path, "run", build).stdout == "old\n"
    assert pipec(tmp_path, "run", build, "--refresh", "read").stdout == "new\n"
    assert pipec(tmp_path, "run", build).stdout == "new\n"
    assert record(runs(build)[-1])["nodes"]["read"]["state"] == "cached"


def test_only_the_local_modules_a_step_imports_are_in_its_key(tmp_path: Path):
    steps = tmp_path / "build" / "steps"
    steps.mkdir(parents=True)
    (steps / "helpers.py").write_text("VALUE = 1\n")
    (steps / "unrelated.py").write_text("OTHER = 1\n")
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "uses",
                "def step():\n    import helpers\n    return helpers.VALUE",
                cache=True,
                local_modules=["steps/helpers.py"],
            ),
            Node("plain", "def step():\n    return 2", cache=True),
        ],
    )
    assert pipec(tmp_path, "run", build).returncode == 0
    (steps / "unrelated.py").write_text("OTHER = 2\n")
    assert pipec(tmp_path, "run", build).returncode == 0
    states = {name: node["state"] for name, node in record(runs(build)[-1])["nodes"].items()}
    assert states == {"uses": "cached", "plain": "cached"}
    (steps / "helpers.py").write_text("VALUE = 3\n")
    assert pipec(tmp_path, "run", build).returncode == 0
    states = {name: node["state"] for name, node in record(runs(build)[-1])["nodes"].items()}
    assert states == {"uses": "succeeded", "plain": "cached"}
