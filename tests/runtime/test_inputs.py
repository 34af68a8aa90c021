"""Input resolution: what each kind of binding means against a run's record and store."""

from __future__ import annotations

import pytest
from runtime_fakes import FakeStore, info, literal, node, run_record

from pipec.inputs import (
    Artifact,
    Combined,
    InputError,
    InputResolver,
    Value,
    describe_combined,
    step_argv,
)
from pipec.manifest import (
    Container,
    ContainerKind,
    Gather,
    Guard,
    ItemRef,
    OutputRef,
    ParamRef,
    Select,
    SelectOption,
)
from pipec.record import NodeRecord, NodeState

DONE = NodeState.SUCCEEDED

# load -> cond ; a map `m` whose body is `sq`; `total` gathers sq.
MAP_OF = {"load": None, "cond": None, "m": None, "sq": "m", "total": None}
RECORD = run_record(
    {
        "load": NodeRecord(DONE, outputs={"return_object": info("load")}),
        "cond": NodeRecord(DONE, decision=False),
        "m": NodeRecord(DONE, elements=2),
        "sq": NodeRecord(),
        "sq[0]": NodeRecord(NodeState.CACHED, outputs={"return_object": info("sq0")}),
        "sq[1]": NodeRecord(DONE, outputs={"return_object": info("sq1")}),
        "total": NodeRecord(),
        "late": NodeRecord(NodeState.RUNNING),
    }
)
ELEMENTS = {"m": [info("m/items/0"), info("m/items/1")]}


def _resolve(binding, body_of=None, index=None, record=RECORD, params=None):
    resolver = InputResolver(params or {"n": 3}, MAP_OF, FakeStore())
    return resolver.resolve(binding, record, ELEMENTS, body_of, index)


def test_literals_and_parameters_are_values_with_their_source():
    assert _resolve(literal([1, "a"])) == Value("[1, 'a']", [1, "a"])
    assert _resolve(ParamRef("n"), params={"n": 2.5}) == Value("2.5", 2.5)


def test_an_output_is_the_artifact_the_store_names_with_the_recorded_hash():
    found = _resolve(OutputRef("load", "return_object"))
    assert found == Artifact(
        "mem://load/return_object",
        info("load").path,
        info("load").sha256,
        "load",
        "return_object",
    )


def test_an_output_not_finished_yet_cannot_be_resolved():
    with pytest.raises(
        InputError, match=r"late\.return_object is not available \(late is running\)"
    ):
        _resolve(OutputRef("late", "return_object"))
    with pytest.raises(InputError, match="nowhere is missing"):
        _resolve(OutputRef("nowhere", "return_object"))


def test_inside_a_map_body_a_sibling_output_is_the_same_elements_instance():
    found = _resolve(OutputRef("sq", "return_object"), body_of="m", index=1)
    assert isinstance(found, Artifact) and found.node == "sq[1]"
    assert found.sha256 == info("sq1").sha256


def test_an_item_is_its_instances_element_and_only_inside_the_body():
    found = _resolve(ItemRef("m"), body_of="m", index=0)
    assert found == Artifact(
        "mem://m/items/0", ELEMENTS["m"][0].path, ELEMENTS["m"][0].sha256, "m", "items[0]"
    )
    with pytest.raises(InputError, match="read outside its body"):
        _resolve(ItemRef("m"))


def test_a_gather_lists_every_instance_in_order():
    found = _resolve(Gather("m", "sq", "return_object"))
    assert isinstance(found, Combined) and found.kind == "list"
    assert [entry.node for entry in found.entries if isinstance(entry, Artifact)] == [
        "sq[0]",
        "sq[1]",
    ]
    unexpanded = RECORD.with_node("m", NodeRecord(DONE))
    with pytest.raises(InputError, match="map m has not expanded"):
        _resolve(Gather("m", "sq", "return_object"), record=unexpanded)


def test_containers_combine_their_entries_and_describe_them_three_ways():
    binding = Container(
        ContainerKind.DICT, (OutputRef("load", "return_object"), ParamRef("n")), ("'a'", "'b'")
    )
    found = _resolve(binding)
    assert found == Combined(
        "dict", (_resolve(OutputRef("load", "return_object")), Value("3", 3)), ("'a'", "'b'")
    )
    assert describe_combined(found, "path") == {
        "dict": [["'a'", {"path": "mem://load/return_object"}], ["'b'", {"literal": "3"}]]
    }
    assert describe_combined(found, "relative")["dict"][0][1] == {"path": info("load").path}
    assert describe_combined(found, "artifact")["dict"][0][1] == {"artifact": info("load").sha256}
    nested = _resolve(Container(ContainerKind.TUPLE, (Container(ContainerKind.LIST, ()),)))
    assert describe_combined(nested, "path") == {"tuple": [{"list": []}]}


def test_a_select_takes_the_first_option_whose_guards_hold():
    binding = Select(
        (
            SelectOption((Guard("cond", True),), literal("yes")),
            SelectOption((Guard("cond", False),), literal("no")),
            SelectOption((), literal("fallback")),
        )
    )
    assert _resolve(binding) == Value("'no'", "no")
    only_true = Select((SelectOption((Guard("cond", True),), literal("yes")),))
    with pytest.raises(InputError, match="no option"):
        _resolve(only_true)


def test_inputs_of_an_instance_read_its_own_element():
    body = node("sq", {"x": ItemRef("m"), "k": literal(2)}, map="m")
    resolver = InputResolver({}, MAP_OF, FakeStore())
    inputs = resolver.inputs_of(body, 1, RECORD, ELEMENTS)
    assert list(inputs) == ["x", "k"]
    assert isinstance(inputs["x"], Artifact) and inputs["x"].output == "items[1]"


def test_the_step_command_line_passes_each_input_by_its_kind():
    store = FakeStore()
    artifact = Artifact("mem://load/return_object", "r", "s" * 64, "load", "return_object")
    combined = Combined("list", (artifact, Value("1", 1)))
    argv = step_argv(
        "python3",
        "/build/steps/f.py",
        "f[0]",
        {"data": artifact, "n": Value("1", 1), "many": combined},
        {"return_object": "mem://f[0]/return_object"},
        store,
    )
    assert argv == (
        "python3",
        "/build/steps/f.py",
        "--input",
        "data=mem://load/return_object",
        "--value",
        "n=1",
        "--input",
        "many=@mem://inputs/f[0]/many.json",
        "--output",
        "return_object=mem://f[0]/return_object",
    )
    assert store.specs["f[0]", "many"] == {
        "list": [{"path": "mem://load/return_object"}, {"literal": "1"}]
    }
