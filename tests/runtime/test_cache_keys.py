"""What goes into a unit's cache key, and when the run's cache is bypassed."""

from __future__ import annotations

import dataclasses
import io

import pytest
from runtime_fakes import PYTHON, FakeStore, node

from pipec.cache import StepCache
from pipec.caching import RunCache, is_cacheable, unit_cache_key
from pipec.console import Console
from pipec.inputs import Artifact, Combined, ResolvedInput, Value
from pipec.manifest import Node, NodeKind

STEP = node("f", requirements=("numpy>=2",), local_modules=("steps/helpers.py",))
HASHES = {"steps/f.py": "s" * 64, "steps/helpers.py": "h" * 64}
INPUTS: dict[str, ResolvedInput] = {
    "data": Artifact("/run/a.pkl", "a.pkl", "a" * 64, "load", "return_object"),
    "n": Value("3", 3),
    "both": Combined("list", (Artifact("/run/b.pkl", "b.pkl", "b" * 64, "b", "o"),)),
}
INSTALLED: dict[str, str | None] = {"numpy": "2.0.1", "pandas": "2.2.0"}


def _key(
    step: Node = STEP,
    inputs: dict[str, ResolvedInput] | None = None,
    hashes: dict[str, str] | None = None,
    installed: dict[str, str | None] | None = None,
    python=PYTHON,
) -> str:
    return unit_cache_key(
        step,
        INPUTS if inputs is None else inputs,
        HASHES if hashes is None else hashes,
        python,
        INSTALLED if installed is None else installed,
    )


def _artifact(sha256: str, path: str = "/run/a.pkl") -> Artifact:
    return Artifact(path, "a.pkl", sha256, "load", "return_object")


def test_the_same_inputs_give_the_same_key():
    assert _key() == _key()
    assert len(_key()) == 64


@pytest.mark.parametrize(
    "changed",
    [
        {"inputs": {**INPUTS, "data": _artifact("c" * 64)}},
        {"inputs": {**INPUTS, "n": Value("4", 4)}},
        {"inputs": {**INPUTS, "both": Combined("tuple", INPUTS["both"].entries)}},  # type: ignore[union-attr]
        {"hashes": {**HASHES, "steps/f.py": "t" * 64}},
        {"hashes": {**HASHES, "steps/helpers.py": "i" * 64}},
        {"installed": {**INSTALLED, "numpy": "2.1.0"}},
        {"python": dataclasses.replace(PYTHON, version="3.11.10")},
        {"python": dataclasses.replace(PYTHON, cloudpickle="3.0.0")},
        {"step": dataclasses.replace(STEP, outputs=("a", "b"))},
        {"step": dataclasses.replace(STEP, requirements=("numpy>=2.1",))},
    ],
    ids=[
        "artifact-hash",
        "value",
        "container-kind",
        "script",
        "local-module",
        "installed-requirement",
        "python",
        "cloudpickle",
        "outputs",
        "requirements",
    ],
)
def test_what_decides_the_outputs_changes_the_key(changed: dict[str, object]):
    assert _key(**changed) != _key()  # type: ignore[arg-type]


def test_where_an_artifact_lives_and_what_else_is_installed_leave_the_key_alone():
    moved = {**INPUTS, "data": _artifact("a" * 64, path="/elsewhere/a.pkl")}
    assert _key(inputs=moved) == _key()
    assert _key(installed={**INSTALLED, "pandas": "3.0.0"}) == _key()


def test_only_steps_and_glue_that_ask_for_it_are_cacheable():
    assert is_cacheable(STEP)
    assert is_cacheable(dataclasses.replace(STEP, kind=NodeKind.GLUE))
    assert not is_cacheable(dataclasses.replace(STEP, cache=False))
    assert not is_cacheable(dataclasses.replace(STEP, kind=NodeKind.CONDITION))
    assert not is_cacheable(dataclasses.replace(STEP, kind=NodeKind.MAP))


def _run_cache(tmp_path, enabled: bool, refresh: frozenset[str] = frozenset()) -> RunCache:
    console = Console(io.BytesIO(), io.StringIO())
    cache = StepCache(tmp_path / "cache")
    return RunCache(cache, FakeStore(), console, enabled=enabled, refresh=refresh)


def test_refresh_names_a_node_and_all_its_instances(tmp_path):
    run_cache = _run_cache(tmp_path, enabled=True, refresh=frozenset({"sq"}))
    assert run_cache.refreshed("sq") and run_cache.refreshed("sq[3]")
    assert not run_cache.refreshed("other")


def test_a_disabled_or_refreshed_cache_serves_nothing_and_an_empty_one_misses(tmp_path):
    key = _key()
    assert _run_cache(tmp_path, enabled=False).serve("f", STEP, key) is None
    assert (
        _run_cache(tmp_path, enabled=True, refresh=frozenset({"f"})).serve("f", STEP, key) is None
    )
    assert _run_cache(tmp_path, enabled=True).serve("f", STEP, key) is None
    assert not (tmp_path / "cache").exists()
