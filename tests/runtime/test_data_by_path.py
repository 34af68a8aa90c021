"""A cached step that reads data by path reruns when the data changes."""

from __future__ import annotations

import os
from pathlib import Path

from buildkit import Node, Param, out, param, pipec, value, write_build

from pipec.data_paths import data_stamp

READ_FILE = """
def step(path):
    with open(path) as f:
        return f.read()
"""

READ_FOLDER = """
import os

def step(folder):
    return sorted(os.listdir(folder))
"""

PRINT = "def step(x):\n    print('got', x)"


def _build(tmp_path: Path, folder: Path) -> Path:
    return write_build(
        tmp_path / "build",
        [
            Node("read", READ_FILE, inputs={"path": param("path")}, cache=True),
            Node("listing", READ_FOLDER, inputs={"folder": value(str(folder))}, cache=True),
            Node(
                "show",
                "def step(x, y):\n    print('got', x, y)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"x": out("read"), "y": out("listing")},
            ),
        ],
        params=[Param("path", "str")],
    )


def test_changed_data_reruns_the_step_that_reads_it(tmp_path: Path):
    data, folder = tmp_path / "data.txt", tmp_path / "inbox"
    data.write_text("one")
    folder.mkdir()
    (folder / "a.csv").write_text("1")
    build = _build(tmp_path, folder)

    first = pipec(tmp_path, "run", build, "--param", f"path={data}")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "got one ['a.csv']\n"
    again = pipec(tmp_path, "run", build, "--param", f"path={data}")
    assert again.stdout == first.stdout
    assert "cached read" in again.stderr and "cached listing" in again.stderr

    data.write_text("two")
    os.utime(data, ns=(1, 1))  # a different time even on a coarse clock
    (folder / "b.csv").write_text("2")
    changed = pipec(tmp_path, "run", build, "--param", f"path={data}")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "got two ['a.csv', 'b.csv']\n"
    assert "cached read" not in changed.stderr and "cached listing" not in changed.stderr


def test_a_stamp_follows_size_and_time_and_ignores_what_is_not_a_path(tmp_path: Path):
    data = tmp_path / "d.bin"
    data.write_bytes(b"abc")
    os.utime(data, ns=(5, 5))
    before = data_stamp(str(data))
    assert before is not None and data_stamp(f"file://{data}") == before
    os.utime(data, ns=(6, 6))
    assert data_stamp(str(data)) != before
    for text in ("", ".", "/", "./", "no such file here", "a\0b"):
        assert data_stamp(text) is None
