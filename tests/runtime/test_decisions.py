"""The pure parts: parameter types, version specifiers, scheduling, cache keys, the schema checker."""

from __future__ import annotations

import pytest

from pipec.cache import CacheKeyParts, cache_key
from pipec.manifest import Guard
from pipec.params import parse_annotation, parse_value
from pipec.requirements_check import parse_requirement, satisfies, version_key
from pipec.scheduler import Scheduler, Skip, kept_on_resume, retry_delay
from pipec.schema import schema_errors


@pytest.mark.parametrize(
    ("annotation", "text", "expected"),
    [
        ("int", "12", 12),
        ("float", "2", 2.0),
        ("str", "file:///x.pkl", "file:///x.pkl"),
        ("str", "12", "12"),
        ("str", "'quoted'", "quoted"),
        ("bool", "true", True),
        ("list[str]", '["a", "b"]', ["a", "b"]),
        ("List[int]", "[1, 2]", [1, 2]),
        ("dict", "{'k': 1}", {"k": 1}),
        ("dict[str, float]", "{'k': 1.5}", {"k": 1.5}),
        ("Optional[int]", "None", None),
        ("int | None", "3", 3),
        ("tuple[int, ...]", "(1, 2, 3)", (1, 2, 3)),
        ("typing.Optional[str]", "None", None),
        ("'int'", "5", 5),
    ],
)
def test_parameter_values_follow_the_annotation(annotation: str, text: str, expected: object):
    spec = parse_annotation(annotation)
    assert spec is not None
    assert parse_value(text, spec) == expected


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        ("int", "abc"),
        ("int", "1.5"),
        ("int", "True"),
        ("list[str]", "[1]"),
        ("dict", "[]"),
        ("tuple[int, int]", "(1,)"),
        ("Optional[int]", "'x'"),
    ],
)
def test_parameter_values_of_the_wrong_type_are_refused(annotation: str, text: str):
    spec = parse_annotation(annotation)
    assert spec is not None
    with pytest.raises(ValueError):
        parse_value(text, spec)


def test_unknown_annotations_fall_back():
    assert parse_annotation("pd.DataFrame") is None
    assert parse_annotation("not valid python(") is None


@pytest.mark.parametrize(
    ("installed", "spec", "ok"),
    [
        ("1.9.1", "scikit-learn==1.9.1", True),
        ("1.9.0", "scikit-learn==1.9.1", False),
        ("1.9", "pkg==1.9.0", True),
        ("2.0", "pkg>=1.0", True),
        ("0.9", "pkg>=1.0", False),
        ("1.0rc1", "pkg>=1.0", False),
        ("1.0.post1", "pkg>1.0", True),
        ("1.0.dev3", "pkg<1.0a1", True),
        ("1.4.5", "pkg~=1.4.2", True),
        ("1.5.0", "pkg~=1.4.2", False),
        ("1.4.7", "pkg==1.4.*", True),
        ("1.5", "pkg!=1.4.*", True),
        ("3.1.3", "pkg>=2,<4", True),
        ("4.0", "pkg>=2,<4", False),
        ("1.0+local", "pkg==1.0", True),
        ("anything", "pkg", True),
    ],
)
def test_version_specifiers(installed: str, spec: str, ok: bool):
    assert satisfies(installed, parse_requirement(spec).specifiers) is ok


def test_requirement_names_are_normalized():
    requirement = parse_requirement("Scikit_Learn[extra] >= 1.0 ; python_version > '3'")
    assert requirement.name == "scikit-learn"
    assert requirement.specifiers == ((">=", "1.0"),)
    assert version_key("1.0") == version_key("1.0.0")


def test_the_scheduler_hands_out_ready_nodes_in_program_order():
    deps = {"a": [], "b": [], "c": ["a", "b"], "d": ["c"], "e": []}
    scheduler = Scheduler(["e", "b", "a", "c", "d"], deps)
    assert scheduler.take_ready() == ["e", "b", "a"]
    scheduler.succeeded("a")
    assert scheduler.take_ready() == []
    scheduler.succeeded("b")
    assert scheduler.take_ready() == ["c"]
    decision = scheduler.failed("c", finished=["a", "b", "c"])
    assert decision.skipped == ("d",) and not decision.abort


def test_abort_on_failure_stops_new_starts():
    scheduler = Scheduler(["a", "b", "c"], {"a": [], "b": [], "c": ["b"]}, abort_on_failure=True)
    assert scheduler.take_ready() == ["a", "b"]
    assert scheduler.failed("a", finished=["a"]).abort
    scheduler.succeeded("b")
    assert scheduler.take_ready() == []


def test_resumed_nodes_are_done_at_once_and_need_kept_ancestors():
    deps = {"a": [], "b": ["a"], "c": ["b"]}
    assert kept_on_resume(["a", "b", "c"], deps, {"a", "c"}) == {"a"}
    scheduler = Scheduler(["a", "b", "c"], deps, completed={"a"})
    assert scheduler.take_ready() == ["b"]


def test_guards_skip_the_branch_not_taken_and_what_it_guards():
    deps = {"c": [], "yes": ["c"], "inner": ["c", "yes"], "no": ["c"], "after": ["yes", "no"]}
    guards = {
        "yes": [Guard("c", True)],
        "inner": [Guard("c", True), Guard("inner_c", True)],
        "no": [Guard("c", False)],
    }
    scheduler = Scheduler(list(deps), deps, guards=guards)
    assert scheduler.take_ready() == ["c"]
    scheduler.decided("c", False)
    scheduler.succeeded("c")
    assert scheduler.take_skipped() == [
        Skip("yes", "branch not taken: c decided False"),
        Skip("inner", "branch not taken: c decided False"),
    ]
    assert scheduler.take_ready() == ["no"]
    scheduler.succeeded("no")
    assert scheduler.take_ready() == ["after"]


def test_a_map_body_runs_once_per_element_and_its_gather_waits_for_all():
    deps = {
        "items": [],
        "other": [],
        "m": ["items"],
        "sq": ["m", "other"],
        "neg": ["sq", "m"],
        "total": ["m", "neg"],
    }
    bodies = {"m": ["sq", "neg"]}
    scheduler = Scheduler(list(deps), deps, bodies=bodies)
    assert scheduler.take_ready() == ["items", "other"]
    scheduler.succeeded("items")
    assert scheduler.take_ready() == ["m"]
    assert scheduler.expanded("m", 2) == ["sq[0]", "sq[1]", "neg[0]", "neg[1]"]
    scheduler.succeeded("m")
    assert scheduler.take_ready() == []  # the body also reads `other`
    scheduler.succeeded("other")
    assert scheduler.take_ready() == ["sq[0]", "sq[1]"]
    scheduler.succeeded("sq[1]")
    assert scheduler.take_ready() == ["neg[1]"]  # an element does not wait for the others
    decision = scheduler.failed("sq[0]", finished=["items", "other", "m", "sq[0]", "sq[1]"])
    assert decision.skipped == ("neg[0]", "total")


def test_a_map_body_with_glue_runs_its_elements_in_program_order():
    # Body: step `work`, then glue `check` (may raise or exit); the next element waits for it.
    deps = {"items": [], "m": ["items"], "work": ["m"], "check": ["m"], "after": ["m", "check"]}
    scheduler = Scheduler(
        list(deps), deps, bodies={"m": ["work", "check"]}, element_ends={"m": "check"}
    )
    assert scheduler.take_ready() == ["items"]
    scheduler.succeeded("items")
    assert scheduler.take_ready() == ["m"]
    scheduler.expanded("m", 3)
    scheduler.succeeded("m")
    assert scheduler.take_ready() == ["work[0]", "check[0]"]
    scheduler.succeeded("work[0]")
    assert scheduler.take_ready() == []  # element 1 waits for element 0's glue
    scheduler.succeeded("check[0]")
    assert scheduler.take_ready() == ["work[1]", "check[1]"]
    # check[1] calls sys.exit: element 2 and what follows the loop will not run; work[1] goes on
    finished = ["items", "m", "work[0]", "check[0]", "check[1]"]
    assert scheduler.ended("check[1]", finished) == ("work[2]", "check[2]", "after")


def test_an_empty_map_and_a_skipped_map():
    deps = {"c": [], "m": ["c"], "sq": ["m"], "total": ["m", "sq"]}
    scheduler = Scheduler(list(deps), deps, bodies={"m": ["sq"]})
    assert scheduler.take_ready() == ["c"]
    scheduler.succeeded("c")
    assert scheduler.take_ready() == ["m"]
    assert scheduler.expanded("m", 0) == []
    scheduler.succeeded("m")
    assert scheduler.take_ready() == ["total"]

    guards = {"m": [Guard("c", True)], "total": [Guard("c", True)]}
    scheduler = Scheduler(list(deps), deps, bodies={"m": ["sq"]}, guards=guards)
    assert scheduler.take_ready() == ["c"]
    scheduler.decided("c", False)
    scheduler.succeeded("c")
    assert [skip.node for skip in scheduler.take_skipped()] == ["m", "sq", "total"]
    assert scheduler.take_ready() == []


def test_retry_delays_double_up_to_a_cap():
    assert [retry_delay(n, 1.0, cap=5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert retry_delay(3, 0.0) == 0


def _parts(**changes: object) -> CacheKeyParts:
    values: dict[str, object] = {
        "script_sha256": "s" * 64,
        "local_modules": {},
        "function": "f",
        "inputs": {"x": {"artifact": "a" * 64}, "n": {"value": "3"}},
        "outputs": ["out"],
        "python": "cpython-3.11.9",
        "cloudpickle": "3.1.3",
        "requirements": ["numpy==2.0"],
        "installed": {"numpy": "2.0"},
    }
    values.update(changes)
    return CacheKeyParts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"script_sha256": "t" * 64},
        {"local_modules": {"steps/helpers.py": "h" * 64}},
        {"inputs": {"x": {"artifact": "b" * 64}, "n": {"value": "3"}}},
        {"inputs": {"x": {"artifact": "a" * 64}, "n": {"value": "4"}}},
        {"python": "cpython-3.12.1"},
        {"cloudpickle": "3.0.0"},
        {"requirements": ["numpy==2.1"]},
        {"installed": {"numpy": "2.1"}},
    ],
)
def test_the_cache_key_covers_what_decides_the_outputs(change: dict[str, object]):
    assert cache_key(_parts()) == cache_key(_parts())
    assert cache_key(_parts(**change)) != cache_key(_parts())


def test_the_schema_checker_reports_paths():
    schema = {
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {"a": {"type": "array", "items": {"$ref": "#/$defs/n"}}},
        "$defs": {"n": {"type": "integer", "minimum": 0}},
    }
    assert schema_errors({"a": [1, 2]}, schema) == []
    assert schema_errors({"a": [1, -1, True], "b": 0}, schema) == [
        "manifest.a[1]: must be at least 0, got -1",
        "manifest.a[2]: must be integer, got true",
        "manifest: unknown field 'b'",
    ]
