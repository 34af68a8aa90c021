"""Warm starts: a step forked from a template behaves as the fresh `python steps/x.py` would.

Each test runs the same build with warm starts (the default) and with `--cold`, and compares
what a user sees: exit codes, messages, logs, results.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from buildkit import Node, node_states, out, pipec, record, runs, wait_for, write_build

# What a step can see of the process it runs in; every entry must match a fresh interpreter's.
_SURROUNDINGS = """
def step():
    import os
    import sys
    import threading

    main = sys.modules["__main__"]
    return {
        "argv0": os.path.basename(sys.argv[0]),
        "argv_rest": [arg.split("=")[0] for arg in sys.argv[1:]],
        "path0": sys.path[0],
        "cwd": os.getcwd(),
        "file": main.__file__,
        "name": main.__name__,
        "spec": main.__spec__,
        "main_keys": sorted(k for k in vars(main) if k.startswith("__")),
        "node": os.environ["PIPEC_NODE"],
        "env_keys": sorted(k for k in os.environ if k != "PIPEC_COLD"),
        "threads": threading.active_count(),
        "session_leader": os.getsid(0) == os.getpid(),
        "stdin": os.read(0, 10),
        "modules": sorted(m for m in sys.modules if not m.startswith("_pipec")),
        "buffered": sys.stdout.line_buffering,
    }
"""


def _run_both_ways(tmp_path: Path, build: Path, *args: str) -> dict[str, dict[str, object]]:
    # Warm means warm here, under `pytest --cold` too (PIPEC_COLD=1 would make both runs cold);
    # the start_mode fixture puts the variable back after the test.
    os.environ.pop("PIPEC_COLD", None)
    records = {}
    for mode in ("warm", "cold"):
        extra = ("--cold",) if mode == "cold" else ()
        folders = (
            "--runs-dir",
            str(tmp_path / mode),
            "--cache-dir",
            str(tmp_path / f"{mode}-cache"),
        )
        done = pipec(tmp_path, "run", build, *folders, *args, *extra)
        assert done.returncode in (0, 1), done.stderr
        (run_dir,) = runs_in(tmp_path / mode)
        records[mode] = record(run_dir) | {"_stdout": done.stdout, "_run_dir": str(run_dir)}
    return records


def _warm_build(folder: Path, nodes: list[Node]) -> Path:
    """A build of NODES and one more node after them: a run of a single node starts it cold
    (a template pays off from the second node forked from it)."""
    return write_build(folder, [*nodes, Node("then", after=[nodes[-1].name])])


def runs_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


def _result(data: dict[str, object], node: str) -> object:
    import cloudpickle

    entry = data["nodes"][node]["outputs"]["return_object"]  # type: ignore[index]
    path = Path(str(data["_run_dir"])) / entry["path"]
    return cloudpickle.loads(path.read_bytes())


def test_a_forked_step_sees_what_a_fresh_interpreter_sees(tmp_path: Path):
    build = _warm_build(tmp_path / "build", [Node("look", _SURROUNDINGS)])
    both = _run_both_ways(tmp_path, build)
    assert both["warm"]["nodes"]["look"]["warm"] is True  # type: ignore[index]
    warm, cold = (_result(both[mode], "look") for mode in ("warm", "cold"))
    assert warm == cold
    assert warm["threads"] == 1 and warm["session_leader"] and warm["stdin"] == b""  # type: ignore[index]


def test_crashes_exits_and_kills_are_reported_as_for_a_fresh_process(tmp_path: Path):
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "segfault",
                "def step():\n    import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)",
            ),
            Node(
                "quits", "def step():\n    import os\n    print('bye', flush=True)\n    os._exit(3)"
            ),
            Node(
                "killed",
                "def step():\n    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)",
            ),
            Node("raises", "def step():\n    raise ValueError('no good')"),
            Node("exits", "def step():\n    raise SystemExit('a message')"),
            Node("interrupted", "def step():\n    raise KeyboardInterrupt"),
            Node("fine", "def step():\n    return 1"),
        ],
    )
    both = _run_both_ways(tmp_path, build)
    fields = ("state", "exit_code", "message")
    warm, cold = (
        {name: tuple(node[f] for f in fields) for name, node in both[mode]["nodes"].items()}
        for mode in ("warm", "cold")
    )
    assert warm == cold
    assert warm["segfault"][1] == -11 and warm["quits"][1] == 3 and warm["killed"][1] == -9
    assert warm["raises"][1] == 1 and warm["exits"][1] == 1 and warm["interrupted"][1] == -2
    assert warm["fine"][0] == "succeeded"
    for mode in ("warm", "cold"):
        logs = Path(str(both[mode]["_run_dir"])) / "logs"
        raised = (logs / "raises.log").read_text()
        # The traceback starts at the script, as a fresh process's does.
        assert raised.splitlines()[1:3][0] == "Traceback (most recent call last):", raised
        assert "<string>" not in raised and "ValueError: no good" in raised
        assert "a message" in (logs / "exits.log").read_text()
        assert "bye" in (logs / "quits.log").read_text()


def test_nothing_leaks_from_one_step_to_the_next(tmp_path: Path):
    # json is preloaded in the template: a change to it in one step must not reach the next.
    mutate = (
        "def step():\n"
        "    import json\n"
        "    json.LEAKED = getattr(json, 'LEAKED', 0) + 1\n"
        "    SEEN.append(1)\n"
        "    import random\n"
        "    return json.LEAKED, len(SEEN), random.random()\n"
        "SEEN = []\n"
    )
    nodes = [Node(f"n{i}", mutate, imports=["json", "random"]) for i in range(4)]
    build = write_build(tmp_path / "build", nodes)
    both = _run_both_ways(tmp_path, build, "--workers", "1")
    for mode in ("warm", "cold"):
        results = [_result(both[mode], f"n{i}") for i in range(4)]
        assert [r[:2] for r in results] == [(1, 1)] * 4  # type: ignore[index]
        assert len({r[2] for r in results}) == 4  # type: ignore[index]  # reseeded per step


def test_a_module_that_starts_a_thread_or_prints_when_imported_is_not_preloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    site = tmp_path / "site"
    site.mkdir()
    (site / "threadstarter.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    )
    (site / "noisy.py").write_text("print('noisy was imported')\n")
    code = (
        "def step():\n"
        "    import threading\n"
        "    import noisy, threadstarter\n"
        "    return threading.active_count()\n"
    )
    build = write_build(
        tmp_path / "build", [Node("uses", code, imports=["noisy", "threadstarter"])]
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    both = _run_both_ways(tmp_path, build)
    for mode in ("warm", "cold"):
        assert _result(both[mode], "uses") == 2, mode
        log = Path(str(both[mode]["_run_dir"])) / "logs" / "uses.log"
        assert "noisy was imported" in log.read_text(), mode


def test_the_next_nodes_modules_are_imported_while_the_node_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("PIPEC_COLD", raising=False)  # a head start is what warm starts add
    site = tmp_path / "site"
    site.mkdir()
    marker = site / "imported"
    (site / "later.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('imported').touch()\n"
    )
    # `first` waits for `later` to be imported, which only a head start does before it ends.
    waits = (
        "def step():\n"
        "    import os, time\n"
        "    deadline = time.monotonic() + 30\n"
        f"    while not os.path.exists({str(marker)!r}) and time.monotonic() < deadline:\n"
        "        time.sleep(0.05)\n"
        f"    return os.path.exists({str(marker)!r})\n"
    )
    nodes = [
        Node("first", waits),
        Node(
            "second",
            "import later\n\ndef step():\n    return 2",
            after=["first"],
            imports=["later"],
        ),
    ]
    build = write_build(tmp_path / "build", nodes)
    monkeypatch.setenv("PYTHONPATH", str(site))
    done = pipec(tmp_path, "run", build, "--runs-dir", str(tmp_path / "runs"), "--no-cache")
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs_in(tmp_path / "runs")
    data = record(run_dir) | {"_run_dir": str(run_dir)}
    assert _result(data, "first") is True
    assert _result(data, "second") == 2


def test_retries_logs_and_cache_behave_as_with_fresh_processes(tmp_path: Path):
    flaky = (
        "def step():\n"
        "    import os\n"
        f"    marker = {str(tmp_path / 'marker')!r} + os.environ['PIPEC_RUN_ID']\n"
        "    print('attempt')\n"
        "    if not os.path.exists(marker):\n"
        "        open(marker, 'w').close()\n"
        "        raise RuntimeError('first time')\n"
        "    return 7\n"
    )
    nodes = [
        Node("flaky", flaky, retry=1, cache=True),
        Node("twice", "def step(x):\n    return x * 2", inputs={"x": out("flaky")}, cache=True),
    ]
    build = write_build(tmp_path / "build", nodes)
    both = _run_both_ways(tmp_path, build, "--retry-backoff", "0")
    for mode in ("warm", "cold"):
        data = both[mode]
        assert node_states(data) == {"flaky": "succeeded", "twice": "succeeded"}
        assert data["nodes"]["flaky"]["attempts"] == 2  # type: ignore[index]
        assert _result(data, "twice") == 14
        log = (Path(str(data["_run_dir"])) / "logs" / "flaky.log").read_text()
        assert log.count("attempt\n") == 2 and "RuntimeError: first time" in log
    # A warm rerun is served from the cache a cold run filled.
    folders = ("--runs-dir", str(tmp_path / "again"), "--cache-dir", str(tmp_path / "cold-cache"))
    cached = pipec(tmp_path, "run", build, *folders)
    assert cached.returncode == 0, cached.stderr
    assert set(node_states(record(runs_in(tmp_path / "again")[0])).values()) == {"cached"}


def test_a_template_that_dies_is_replaced(tmp_path: Path, start_mode: str):
    if start_mode == "cold":
        pytest.skip("there are no templates with --cold")
    # The first attempt kills the template it was forked from; the retry gets a new one.
    code = (
        "def step():\n"
        "    import os, signal\n"
        f"    seen = {str(tmp_path / 'parents')!r}\n"
        "    with open(seen, 'a') as file:\n"
        "        file.write(f'{os.getppid()}\\n')\n"
        "    if open(seen).read().count('\\n') == 1:\n"
        "        os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return 'ok'\n"
    )
    build = _warm_build(tmp_path / "build", [Node("killer", code, retry=1)])
    done = pipec(tmp_path, "run", build, "--retry-backoff", "0")
    assert done.returncode == 0, done.stderr
    assert "template died" in done.stderr
    parents = (tmp_path / "parents").read_text().split()
    assert len(parents) == 2 and parents[0] != parents[1]
    assert record(runs(build)[0])["nodes"]["killer"]["attempts"] == 2  # type: ignore[index]


def test_templates_end_with_the_run(tmp_path: Path, start_mode: str):
    build = _warm_build(tmp_path / "build", [Node("one", "def step():\n    return 1")])
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 0, done.stderr
    run_dir = str(runs(build)[0]).encode()

    def none_left() -> bool:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and run_dir in (entry / "cmdline").read_bytes():
                    return False
            except OSError:
                continue
        return True

    if Path("/proc").is_dir():
        wait_for(none_left, "the templates to end")


def test_another_interpreter_runs_cold_with_a_note(tmp_path: Path, start_mode: str):
    other = tmp_path / "python"
    other.symlink_to(sys.executable)
    build = write_build(tmp_path / "build", [Node("one", "def step():\n    return 1")])
    done = pipec(tmp_path, "run", build, "--python", str(other), "--skip-requirements-check")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "fresh interpreter" in line]
    assert len(notes) == (0 if start_mode == "cold" else 1), done.stderr


def test_another_name_of_pipecs_own_interpreter_starts_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # `--python .venv/bin/python` while pipec runs as `.venv/bin/python3`: one interpreter.
    monkeypatch.delenv("PIPEC_COLD", raising=False)
    own = Path(sys.executable)
    others = [
        sibling
        for sibling in sorted(own.parent.glob("python*"))
        if sibling.name != own.name and sibling.is_file() and os.path.samefile(sibling, own)
    ]
    if not others:
        pytest.skip(f"{own.parent} holds no other name of {own.name}")
    nodes = [Node("one", "def step():\n    return 1"), Node("two", after=["one"])]
    build = write_build(tmp_path / "build", nodes)
    folders = ("--runs-dir", str(tmp_path / "runs"), "--no-cache", "--skip-requirements-check")
    done = pipec(tmp_path, "run", build, *folders, "--python", str(others[0]))
    assert done.returncode == 0, done.stderr
    assert "fresh interpreter" not in done.stderr
    data = record(runs_in(tmp_path / "runs")[0])
    assert data["options"]["starts"] == "warm"  # type: ignore[index]
    assert {node["warm"] for node in data["nodes"].values()} == {True}  # type: ignore[attr-defined]


def test_a_template_that_cannot_start_sends_steps_to_fresh_interpreters_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_mode: str
):
    site = tmp_path / "site"
    site.mkdir()
    # Ends any process that imports it outside a step: a template has no PIPEC_NODE.
    (site / "steps_only.py").write_text(
        "import os\nif 'PIPEC_NODE' not in os.environ:\n    os._exit(1)\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(site))
    code = "def step():\n    import steps_only\n    return 5"
    nodes = [Node(name, code, imports=["steps_only"]) for name in ("a", "b")]
    build = write_build(tmp_path / "build", nodes)
    done = pipec(tmp_path, "run", build)
    assert done.returncode == 0, done.stderr
    assert set(node_states(record(runs(build)[0])).values()) == {"succeeded"}
    notes = [line for line in done.stderr.splitlines() if "could not start" in line]
    assert len(notes) == (0 if start_mode == "cold" else 1), done.stderr


def test_a_step_ends_as_a_fresh_interpreter_ends(tmp_path: Path):
    # Threads are joined, atexit callbacks run, and a file left open is flushed.
    code = (
        "import atexit, os, threading, time\n"
        f"FOLDER = {str(tmp_path / 'ends')!r} + '/' + os.environ['PIPEC_RUN_ID']\n"
        "os.makedirs(FOLDER, exist_ok=True)\n"
        "LEFT_OPEN = open(FOLDER + '/left-open', 'w')\n"
        "def _late():\n"
        "    time.sleep(0.3)\n"
        "    with open(FOLDER + '/thread', 'w') as file:\n"
        "        file.write('joined')\n"
        "def _at_exit():\n"
        "    with open(FOLDER + '/atexit', 'w') as file:\n"
        "        file.write('ran')\n"
        "def step():\n"
        "    LEFT_OPEN.write('flushed')\n"
        "    atexit.register(_at_exit)\n"
        "    threading.Thread(target=_late).start()\n"
        "    return 1\n"
    )
    build = _warm_build(tmp_path / "build", [Node("ends", code)])
    both = _run_both_ways(tmp_path, build)
    for mode in ("warm", "cold"):
        folder = tmp_path / "ends" / str(both[mode]["run_id"])
        found = {path.name: path.read_text() for path in folder.iterdir()}
        assert found == {"left-open": "flushed", "thread": "joined", "atexit": "ran"}, mode


def test_a_node_preloads_its_own_imports_and_those_upstream_of_it(tmp_path: Path):
    from pipec.manifest import load_manifest
    from pipec.warm import preloads

    nodes = [
        Node("load", imports=["numpy"]),
        Node("fit", "def step(x):\n    return x", inputs={"x": out("load")}, imports=["sklearn"]),
        Node("other", imports=["pandas"]),
        Node("report", "def step(m):\n    return m", inputs={"m": out("fit")}),
    ]
    found = preloads(load_manifest(write_build(tmp_path / "build", nodes)))
    runner = {"cloudpickle", "json", "pickle"}
    assert set(found["load"]) == runner | {"numpy"}
    assert set(found["fit"]) == runner | {"numpy", "sklearn"}
    assert set(found["report"]) == runner | {"numpy", "sklearn"}
    assert set(found["other"]) == runner | {"pandas"}


def test_run_json_says_which_nodes_started_warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("PIPEC_COLD", raising=False)  # this test runs both ways itself
    nodes = [
        Node("first", "def step():\n    return 3", cache=True),
        Node("second", "def step(x):\n    return x + 1", inputs={"x": out("first")}),
    ]
    build = write_build(tmp_path / "build", nodes)
    both = _run_both_ways(tmp_path, build)
    for mode, warm in (("warm", True), ("cold", False)):
        data = both[mode]
        assert data["options"]["starts"] == mode  # type: ignore[index]
        assert {name: node["warm"] for name, node in data["nodes"].items()} == {  # type: ignore[attr-defined]
            "first": warm,
            "second": warm,
        }
        shown = pipec(tmp_path, "show", str(data["_run_dir"]))
        assert f"starts:     {mode} ({2 if warm else 0} warm, {0 if warm else 2} cold)" in (
            shown.stdout
        )
    # A node served from the cache did not start at all.
    folders = ("--runs-dir", str(tmp_path / "again"), "--cache-dir", str(tmp_path / "warm-cache"))
    assert pipec(tmp_path, "run", build, *folders).returncode == 0
    again = record(runs_in(tmp_path / "again")[0])
    assert again["nodes"]["first"]["warm"] is None  # type: ignore[index]
    # A single node starts cold: a template would cost more than it saves.
    alone = write_build(tmp_path / "alone", [nodes[0]])
    assert pipec(tmp_path, "run", alone, "--runs-dir", str(tmp_path / "alone-runs")).returncode == 0
    data = record(runs_in(tmp_path / "alone-runs")[0])
    assert data["options"]["starts"] == "cold (a single node)"  # type: ignore[index]
    assert data["nodes"]["first"]["warm"] is False  # type: ignore[index]
    # An interpreter other than pipec's own runs every step cold, and the record says why.
    other = tmp_path / "python"
    other.symlink_to(sys.executable)
    folders = ("--runs-dir", str(tmp_path / "other"), "--no-cache", "--skip-requirements-check")
    assert pipec(tmp_path, "run", build, *folders, "--python", str(other)).returncode == 0
    data = record(runs_in(tmp_path / "other")[0])
    assert str(data["options"]["starts"]).startswith("cold (the steps run on ")  # type: ignore[index]
    assert {node["warm"] for node in data["nodes"].values()} == {False}  # type: ignore[attr-defined]


def test_a_script_edited_during_the_run_runs_as_edited(tmp_path: Path):
    # A template compiles a script once for all the steps it forks: a step after an edit must
    # still run the edited file, even one of the same size and modification time.
    script = tmp_path / "build" / "steps" / "before.py"
    edit = (
        "def step():\n"
        "    import os\n"
        f"    path = {str(script)!r}\n"
        "    times = os.stat(path)\n"
        "    with open(path, 'r+b') as file:\n"
        "        text = file.read()\n"
        "        file.seek(0)\n"
        "        file.write(text.replace(b'OLD', b'NEW'))\n"
        "    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))\n"
    )

    def share_the_script(encoded: dict[str, object]) -> None:
        for node in encoded["nodes"]:  # type: ignore[attr-defined]
            if node["name"] == "after":
                node["script"] = "steps/before.py"

    nodes = [
        Node("before", "def step():\n    return 'OLD'"),
        Node("edits", edit, after=["before"]),
        Node("after", "def step():\n    return 'unused'", after=["edits"]),
    ]
    build = write_build(tmp_path / "build", nodes, edit=share_the_script)
    original = script.read_bytes()
    os.environ.pop("PIPEC_COLD", None)  # put back after the test by the start_mode fixture
    results = {}
    for mode in ("warm", "cold"):
        script.write_bytes(original)
        folders = ("--runs-dir", str(tmp_path / mode), "--workers", "1", "--no-cache")
        extra = ("--cold",) if mode == "cold" else ()
        done = pipec(tmp_path, "run", build, *folders, *extra)
        assert done.returncode == 0, done.stderr
        (run_dir,) = runs_in(tmp_path / mode)
        data = record(run_dir) | {"_run_dir": str(run_dir)}
        assert data["nodes"]["after"]["warm"] is (mode == "warm")  # type: ignore[index]
        results[mode] = (_result(data, "before"), _result(data, "after"))
    assert results == {"warm": ("OLD", "NEW"), "cold": ("OLD", "NEW")}
