"""Wheels made in a test's folder, so that ``--env venv`` installs with no network: ``tinypkg``
(written here) and cloudpickle (made from the files of the cloudpickle this interpreter has:
pure Python, so its files are a valid wheel's contents)."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

__all__ = ["write_test_wheels"]


def _write_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal pure-Python wheel: the files, METADATA, WHEEL and a RECORD of their hashes."""
    info = f"{name}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    ).encode()
    contents[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: pipec-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    lines = []
    for path, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    lines.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def write_test_wheels(folder: Path) -> Path:
    _write_wheel(folder, "tinypkg", "1.0", {"tinypkg/__init__.py": b"VALUE = 'tiny 1.0'\n"})
    installed = importlib.metadata.distribution("cloudpickle")
    files = {
        str(path): Path(str(installed.locate_file(path))).read_bytes()
        for path in installed.files or ()
        if path.parts[0] == "cloudpickle" and "__pycache__" not in path.parts
    }
    _write_wheel(folder, "cloudpickle", installed.version, files)
    return folder
