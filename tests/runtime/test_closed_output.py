"""A run whose standard output closes (``pipec run ... | head -1``) keeps running."""

from __future__ import annotations

from pathlib import Path

from buildkit import Node, node_states, only_run, out, start_pipec, value, wait_for, write_build

GATED = """
import os, time

def step(gate):
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)
    return 7
"""


def test_a_run_goes_on_when_its_reader_stops_reading(tmp_path: Path):
    gate = tmp_path / "gate"
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "hello",
                "def step():\n    print('first line')",
                kind="glue",
                effects=True,
                outputs=(),
            ),
            Node("slow", GATED, inputs={"gate": value(str(gate))}, after=("hello",)),
            Node(
                "late",
                "def step(x):\n    for i in range(3):\n        print('late', x, i)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"x": out("slow")},
            ),
        ],
    )
    running = start_pipec(tmp_path, "run", build)
    assert running.stdout is not None and running.stderr is not None
    assert running.stdout.readline() == "first line\n"
    running.stdout.close()  # as `head -1` does once it has its line
    gate.touch()
    stderr = running.stderr.read()
    assert running.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr
    assert "standard output was closed; the run goes on" in stderr
    data = only_run(build)
    assert data["state"] == "succeeded"
    assert set(node_states(data).values()) == {"succeeded"}
    run_dir = build / "runs" / str(data["run_id"])
    wait_for(lambda: (run_dir / "logs" / "late.log").is_file(), "the late node's log")
    assert "late 7 2" in (run_dir / "logs" / "late.log").read_text()
