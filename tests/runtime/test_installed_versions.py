"""`pipec run` reads installed versions without importlib.metadata where it can (it is slow to
import): the answers must be importlib.metadata's, for every distribution of this interpreter
and for the forms it does not read itself."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from pipec.requirements_check import normalize, probe_interpreter


def _reference(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_every_installed_distribution_has_importlib_metadatas_version():
    names = sorted({str(d.metadata["Name"]) for d in metadata.distributions()})
    names += ["no-such-distribution", "NUMPY", "Scikit_Learn", "zope.interface"]
    installed = probe_interpreter(sys.executable, names).installed
    assert {n: installed[normalize(n)] for n in names} == {n: _reference(n) for n in names}


def test_egg_info_and_earlier_sys_path_entries_win_as_in_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, stem, version in (
        (first, "Shadowed_Thing-2.0.dist-info", "2.0"),
        (second, "shadowed_thing-1.0.dist-info", "1.0"),
        (second, "legacy_egg.egg-info", "3.1"),  # develop mode: no version in the name
        (second, "odd_name-4.0-py3.11.egg-info", "4.0rc1"),  # the name and PKG-INFO disagree
    ):
        info = folder / stem
        info.mkdir(parents=True)
        metadata_file = "METADATA" if stem.endswith(".dist-info") else "PKG-INFO"
        name = stem.partition("-")[0].removesuffix(".egg-info")
        (info / metadata_file).write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    names = ["shadowed-thing", "legacy-egg", "odd_name", "absent"]
    installed = probe_interpreter(sys.executable, names).installed
    assert {n: installed[normalize(n)] for n in names} == {n: _reference(n) for n in names}
    assert installed["shadowed-thing"] == "2.0" and installed["odd-name"] == "4.0rc1"
