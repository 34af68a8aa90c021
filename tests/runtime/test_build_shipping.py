"""The build's fingerprint, which decides whether a Dask worker gets the build shipped.

A worker remembers the fingerprint of a build between runs; an edit must still change it,
whatever the edit kept of the file's size and modification time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pipec.build_shipping import build_fingerprint, sees_build

_SETTLED = 2.2  # seconds: longer than the window in which a fresh hash is not remembered


def _fresh_fingerprint(build: Path) -> str:
    """The fingerprint as a process that has remembered nothing computes it."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipec.build_shipping import build_fingerprint\n"
        "print(build_fingerprint(Path(sys.argv[1])))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(build)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _settled_build(folder: Path) -> tuple[Path, Path]:
    steps = folder / "steps"
    steps.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"format": 1}\n', encoding="utf-8")
    script = steps / "work.py"
    script.write_text("def work(x):\n    return 'OLD'\n", encoding="utf-8")
    time.sleep(_SETTLED)  # old enough that its fingerprint is remembered
    return folder, script


def test_a_build_edited_in_place_keeping_size_and_mtime_gets_a_new_fingerprint(tmp_path: Path):
    build, script = _settled_build(tmp_path / "build")
    before = build_fingerprint(build)
    assert build_fingerprint(build) == before == _fresh_fingerprint(build)
    assert sees_build(str(build), before, look_again=True)

    kept = script.stat()
    with open(script, "r+b") as file:  # the same inode, the same size
        text = file.read()
        file.seek(0)
        file.write(text.replace(b"OLD", b"NEW"))
    os.utime(script, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    assert (script.stat().st_size, script.stat().st_mtime_ns) == (kept.st_size, kept.st_mtime_ns)

    after = build_fingerprint(build)
    assert after != before
    assert after == _fresh_fingerprint(build)
    # A worker that had the build before the edit no longer counts as having it.
    assert not sees_build(str(build), before, look_again=True)
    assert sees_build(str(build), after, look_again=True)


def test_a_file_added_removed_or_renamed_changes_the_fingerprint(tmp_path: Path):
    build, script = _settled_build(tmp_path / "build")
    first = build_fingerprint(build)
    (build / "steps" / "helper.py").write_text("X = 1\n", encoding="utf-8")
    added = build_fingerprint(build)
    assert added != first and added == _fresh_fingerprint(build)
    (build / "steps" / "helper.py").unlink()
    assert build_fingerprint(build) == first
    script.rename(script.with_name("other.py"))
    renamed = build_fingerprint(build)
    assert renamed != first and renamed == _fresh_fingerprint(build)
    # Run folders are not the build.
    (build / "runs" / "r1").mkdir(parents=True)
    (build / "runs" / "r1" / "run.json").write_text("{}", encoding="utf-8")
    assert build_fingerprint(build) == renamed
