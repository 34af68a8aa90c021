"""Looking at runs: run references, `pipec logs`, `pipec show --graph/--dot`, `pipec report`
(rendered in headless Chromium), and the CLI's help."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from buildkit import (
    Node,
    isolated_env,
    out,
    pipec,
    pipec_argv,
    runs,
    start_pipec,
    wait_for,
    write_build,
)
from conftest import pipec_command, run_pipec

from pipec.record import read_record
from pipec.report import active_time


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build with one finished run: `hello` prints and succeeds, `bad` fails on both of its
    attempts, `after_bad` is skipped, `shout` succeeds, `chatty` writes a long log."""
    root = tmp_path_factory.mktemp("views")
    build = write_build(
        root / "build" / "demo",
        [
            Node("hello", "def step():\n    print('hello from a step')\n    return 'hi'"),
            Node(
                "bad",
                "def step():\n    print('trying')\n    raise ValueError('boom')",
                retry=1,
            ),
            Node("after_bad", "def step(x):\n    return x", inputs={"x": out("bad")}),
            Node("shout", "def step(x):\n    return x.upper()", inputs={"x": out("hello")}),
            Node("chatty", "def step():\n    for i in range(30000):\n        print('line', i)"),
        ],
    )
    done = pipec(root, "run", build, "--retry-backoff", "0")
    assert done.returncode == 1, done.stderr
    return build


def _run_id(build: Path) -> str:
    return runs(build)[-1].name


def test_a_run_is_named_by_folder_build_build_and_id_prefix_or_id_alone(
    failed_run: Path, tmp_path: Path
):
    run_id = _run_id(failed_run)
    for words in (
        [failed_run / "runs" / run_id],
        [failed_run, run_id[:15]],
        [failed_run, run_id],
    ):
        done = pipec(tmp_path, "show", *words)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"run:        {run_id} ")
    # A run id alone is looked up in the builds under ./build.
    alone = subprocess.run(
        pipec_argv("show", run_id[:12]),
        capture_output=True,
        text=True,
        cwd=failed_run.parent.parent,
        env=isolated_env(tmp_path),
    )
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.startswith(f"run:        {run_id} ")
    # A build folder with a command that takes one run means its latest run.
    done = pipec(tmp_path, "logs", failed_run, "hello")
    assert done.returncode == 0 and "hello from a step" in done.stdout


def test_a_wrong_or_ambiguous_run_id_is_a_usage_error(failed_run: Path, tmp_path: Path):
    done = pipec(tmp_path, "show", failed_run, "19990101")
    assert done.returncode == 2
    assert "no run '19990101'" in done.stderr and "Traceback" not in done.stderr
    copy = tmp_path / "build"
    shutil.copytree(failed_run, copy)
    first = runs(copy)[0]
    twin = first.with_name(first.name[:-1] + ("0" if first.name[-1] != "0" else "1"))
    shutil.copytree(first, twin)
    data = json.loads((twin / "run.json").read_text())
    data["run_id"] = twin.name
    (twin / "run.json").write_text(json.dumps(data))
    done = pipec(tmp_path, "show", copy, first.name[:-1])
    assert done.returncode == 2
    assert "matches 2 runs" in done.stderr and "give more of the id" in done.stderr


def test_logs_show_every_attempt_of_a_node_or_all_nodes_by_name(failed_run: Path, tmp_path: Path):
    done = pipec(tmp_path, "logs", failed_run, "bad")
    assert done.returncode == 0, done.stderr
    assert "==> pipec: bad, attempt 1" in done.stdout and "==> pipec: bad, attempt 2" in done.stdout
    assert done.stdout.count("ValueError: boom") == 2
    every = pipec(tmp_path, "logs", failed_run)
    assert every.returncode == 0
    assert "[hello] hello from a step" in every.stdout and "[bad] trying" in every.stdout
    assert all(re.match(r"\[\w+\] ", line) for line in every.stdout.splitlines())
    unknown = pipec(tmp_path, "logs", failed_run, "nope")
    assert unknown.returncode == 2 and "has no node 'nope'" in unknown.stderr


def test_logs_follow_a_live_run_to_its_end(tmp_path: Path):
    gate = tmp_path / "gate"
    code = (
        "import os, time\n"
        "def step():\n"
        "    print('before the wait', flush=True)\n"
        f"    while not os.path.exists({str(gate)!r}):\n"
        "        time.sleep(0.02)\n"
        "    print('after the wait')\n"
        "    return 1"
    )
    build = write_build(tmp_path / "build", [Node("slow", code)])
    running = start_pipec(tmp_path, "run", build)
    wait_for(lambda: bool(runs(build)) and (runs(build)[0] / "logs" / "slow.log").exists(), "log")
    follower = subprocess.Popen(
        pipec_argv("logs", build, "slow", "-f"),
        stdout=subprocess.PIPE,
        text=True,
        env=isolated_env(tmp_path),
    )
    wait_for(
        lambda: "before the wait" in (runs(build)[0] / "logs" / "slow.log").read_text(), "step"
    )
    gate.write_text("go")
    followed, _ = follower.communicate(timeout=60)
    running.communicate(timeout=60)
    assert follower.returncode == 0
    assert "before the wait" in followed and "after the wait" in followed


def test_show_graph_draws_the_dag_with_states_and_dot_writes_graphviz(
    failed_run: Path, tmp_path: Path
):
    done = pipec(tmp_path, "show", failed_run / "runs" / _run_id(failed_run), "--graph")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "pipeline test-pipeline: 5 nodes in 2 layers"
    row = {line.split()[1]: line for line in lines if line.startswith("  ")}
    assert row["bad"].split()[:3] == ["X", "bad", "failed"]
    assert row["after_bad"].split()[:3] == ["-", "after_bad", "skipped"]
    assert "<- bad" in row["after_bad"] and "<- hello" in row["shout"]
    dot = pipec(tmp_path, "show", failed_run, "--dot")
    assert dot.returncode == 0
    assert (
        dot.stdout.startswith('digraph "test-pipeline" {') and '"hello" -> "shout";' in dot.stdout
    )


def test_the_graph_of_a_wide_build_has_one_line_per_node(tmp_path: Path):
    nodes = [Node("root")] + [
        Node(f"n{i:02d}", "def step(x):\n    return x", inputs={"x": out("root")})
        for i in range(40)
    ]
    nodes.append(
        Node(
            "join",
            "def step(**xs):\n    return len(xs)",
            inputs={f"x{i}": out(f"n{i:02d}") for i in range(40)},
        )
    )
    build = write_build(tmp_path / "build", nodes)
    done = pipec(tmp_path, "show", build, "--graph")
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert len(rows) == 42 and done.stdout.count("layer ") == 3
    assert max(len(line) for line in rows if "join" not in line) < 80


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_report_renders_in_a_real_browser_with_every_node_in_its_state(
    failed_run: Path, tmp_path: Path
):
    run_dir = failed_run / "runs" / _run_id(failed_run)
    page = run_dir / "report.html"
    assert page.is_file()  # every run writes it at its end
    text = page.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing from a network
    screenshot = tmp_path / "report.png"
    done = subprocess.run(
        [
            str(_chromium()),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,900",
            f"--screenshot={screenshot}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert screenshot.stat().st_size > 0
    dom = done.stdout
    states = read_record(run_dir).nodes
    for name, node in states.items():
        # The DAG's box and the table's row, each with the node's state.
        assert f'<g class="node" data-node="{name}" data-state="{node.state.value}">' in dom
        assert f'<tr class="run-row" data-node="{name}" data-state="{node.state.value}">' in dom
    assert '<details id="log-bad">' in dom and "ValueError: boom" in dom


def test_report_writes_where_asked(failed_run: Path, tmp_path: Path):
    target = tmp_path / "page.html"
    done = pipec(tmp_path, "report", failed_run, "-o", target)
    assert done.returncode == 0, done.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_pipec_alone_prints_the_help_and_every_argument_has_help_text(tmp_path: Path):
    done = run_pipec()
    assert done.returncode == 0 and done.stdout.startswith("usage: pipec")
    version = run_pipec("--version")
    assert version.returncode == 0 and version.stdout.startswith("pipec ")
    from pipec.compiler.cli import _parser

    parser = _parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"pipec {name}: {action.dest} has no help text"


def test_the_wall_time_counts_only_the_time_some_node_ran(failed_run: Path):
    record = read_record(failed_run / "runs" / _run_id(failed_run))
    first, second = list(record.nodes)[:2]
    nodes = dict(record.nodes)
    nodes[first] = dataclasses.replace(
        nodes[first], start="2025-01-01T10:00:00+00:00", end="2025-01-01T10:00:10+00:00"
    )
    nodes[second] = dataclasses.replace(  # resumed four hours later
        nodes[second], start="2025-01-01T14:00:00+00:00", end="2025-01-01T14:00:05+00:00"
    )
    for name in list(nodes)[2:]:
        nodes[name] = dataclasses.replace(
            nodes[name], start="2025-01-01T14:00:01+00:00", end="2025-01-01T14:00:03+00:00"
        )
    assert active_time(dataclasses.replace(record, nodes=nodes)) == 15.0


def test_a_command_piped_into_head_ends_quietly(failed_run: Path, tmp_path: Path):
    shell = f"{shlex.join(pipec_command('logs', failed_run))} | head -1"
    done = subprocess.run(
        ["bash", "-c", shell], capture_output=True, text=True, env=isolated_env(tmp_path)
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
