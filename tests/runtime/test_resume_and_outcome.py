"""What a resumed run keeps, what a finished unit wrote, and how a run's record is settled."""

from __future__ import annotations

from runtime_fakes import FakeStore, info, literal, manifest, node, run_record

from pipec.inputs import Artifact, Combined, Value
from pipec.manifest import Guard, ItemRef, NodeKind, OutputRef
from pipec.outcome import final_state, result_entry, settle, summarize_bodies
from pipec.outputs import elements_summary, output_locations, read_outputs
from pipec.record import NodeRecord, NodeState, RunState
from pipec.resume import restore_kept, reusable_nodes

DONE = NodeState.SUCCEEDED
SCRIPT = "c" * 64
# load -> cond -> (m over load; its body sq reads the item) -> total
PIPELINE = manifest(
    node("load"),
    node("cond", {"x": OutputRef("load", "return_object")}, kind=NodeKind.CONDITION,
         outputs=("decision",)),
    node("m", {"over": OutputRef("load", "return_object")}, kind=NodeKind.MAP,
         outputs=("items",), when=(Guard("cond", True),)),
    node("sq", {"x": ItemRef("m")}, map="m"),
    node("total", {"x": literal(1)}, when=(Guard("cond", True),)),
)  # fmt: skip
HASHES = {f"steps/{name}.py": SCRIPT for name in ("load", "cond", "m", "sq", "total")}
ELEMENTS = [info("m/items/0"), info("m/items/1")]


def _store() -> FakeStore:
    store = FakeStore()
    store.written["load", "return_object"] = info("load")
    store.written["sq[0]", "return_object"] = info("sq0")
    store.decisions["cond"] = True
    store.elements["m"] = ELEMENTS
    return store


def _hashing(store: FakeStore) -> dict[str, object]:
    return {"sha256_of": store.content_sha256}


def _previous(**changes: NodeRecord) -> dict[str, NodeRecord]:
    nodes = {
        "load": NodeRecord(DONE, code_sha256=SCRIPT, outputs={"return_object": info("load")}),
        "cond": NodeRecord(DONE, code_sha256=SCRIPT, decision=True,
                           outputs={"decision": info("decision")}),
        "m": NodeRecord(NodeState.FAILED, code_sha256=SCRIPT, elements=2,
                        outputs={"items": elements_summary(ELEMENTS, "artifacts/m/items")}),
        "sq": NodeRecord(NodeState.FAILED),
        "sq[0]": NodeRecord(DONE, code_sha256=SCRIPT, outputs={"return_object": info("sq0")}),
        "sq[1]": NodeRecord(NodeState.FAILED, code_sha256=SCRIPT),
        "total": NodeRecord(NodeState.SKIPPED),
    }  # fmt: skip
    nodes.update(changes)
    return nodes


def test_a_resume_keeps_finished_units_whose_outputs_are_intact():
    store = _store()
    kept = reusable_nodes(PIPELINE, run_record(_previous()), store, HASHES, **_hashing(store))
    assert kept == {"load", "cond", "m", "sq[0]"}


def test_a_resume_drops_a_changed_script_and_everything_downstream_of_it():
    store = _store()
    hashes = {**HASHES, "steps/load.py": "x" * 64}
    kept = reusable_nodes(PIPELINE, run_record(_previous()), store, hashes, **_hashing(store))
    assert kept == set()


def test_a_resume_drops_a_unit_whose_output_changed_or_vanished():
    store = _store()
    store.written["sq[0]", "return_object"] = info("other")
    previous = run_record(_previous())
    assert reusable_nodes(PIPELINE, previous, store, HASHES, **_hashing(store)) == {
        "load",
        "cond",
        "m",
    }
    store.decisions["cond"] = False
    assert reusable_nodes(PIPELINE, previous, store, HASHES, **_hashing(store)) == {"load"}


def test_a_resume_drops_a_unit_whose_bytes_changed_though_its_meta_file_did_not():
    store = _store()
    changed = {"load": "0" * 64}  # the file hashes differently from what its meta file says
    reports: list[str] = []
    kept = reusable_nodes(
        PIPELINE,
        run_record(_previous()),
        store,
        HASHES,
        reports.append,
        sha256_of=lambda path: changed.get(path.parent.name) or store.content_sha256(path),
    )
    assert kept == set()
    assert reports == ["load: return_object no longer has the bytes it was written with; "
                       "running it again"]  # fmt: skip


def test_restoring_kept_work_brings_back_decisions_expansions_and_instances():
    # A resumed record has no entries for the instances it did not keep.
    nodes = _previous()
    del nodes["sq[0]"], nodes["sq[1]"]
    previous = run_record(nodes)
    restored = restore_kept(PIPELINE, previous, frozenset({"load", "cond", "m"}), _store())
    assert restored.decisions == {"cond": True}
    assert restored.expansions == {"m": 2}
    assert restored.elements == {"m": ELEMENTS}
    assert restored.record.nodes["m"].state is DONE  # failed only by an instance last time
    assert list(restored.record.nodes) == ["load", "cond", "m", "sq", "sq[0]", "sq[1]", "total"]
    assert restored.record.nodes["sq[1]"] == NodeRecord()


def test_what_a_unit_wrote_is_read_back_by_node_kind():
    store = _store()
    condition = read_outputs(store, "cond", PIPELINE.node("cond"))
    assert condition.decision is True and condition.record_fields() == {"decision": True}
    assert condition.summary() == ": decided True"
    exploded = read_outputs(store, "m", PIPELINE.node("m"))
    assert exploded.record_fields() == {"elements": 2} and exploded.summary() == ": 2 elements"
    assert exploded.outputs == {"items": elements_summary(ELEMENTS, "artifacts/m/items")}
    step = read_outputs(store, "load", PIPELINE.node("load"))
    assert step.outputs == {"return_object": info("load")} and step.summary() == ""
    assert output_locations(store, "m", PIPELINE.node("m")) == {"items": "mem://m/items/"}
    assert output_locations(store, "cond", PIPELINE.node("cond")) == {
        "decision": "mem://cond/decision.json"
    }


def test_a_map_body_is_summed_up_from_its_instances():
    nodes = _previous(
        m=NodeRecord(DONE, elements=2), sq=NodeRecord(), **{"sq[1]": NodeRecord(DONE)}
    )
    summed = summarize_bodies(PIPELINE, run_record(nodes))
    assert (summed.nodes["sq"].state, summed.nodes["sq"].message) == (DONE, "2 instances")
    nodes["sq[1]"] = NodeRecord(NodeState.FAILED)
    summed = summarize_bodies(PIPELINE, run_record(nodes))
    assert summed.nodes["sq"].message == "failed at element(s) 1"
    nodes["sq[1]"] = NodeRecord()
    assert summarize_bodies(PIPELINE, run_record(nodes)).nodes["sq"].state is NodeState.PENDING


def test_settling_a_stopped_run_ends_what_ran_and_skips_what_never_started():
    nodes = {"load": NodeRecord(NodeState.RUNNING), "total": NodeRecord()}
    aborted = settle(manifest(node("load"), node("total")), run_record(nodes), NodeState.ABORTED)
    assert aborted.nodes["load"].state is NodeState.ABORTED
    assert aborted.nodes["total"] == NodeRecord(
        NodeState.SKIPPED, message="not started: the run stopped"
    )
    interrupted = settle(
        manifest(node("load"), node("total")), run_record(nodes), NodeState.INTERRUPTED
    )
    assert interrupted.nodes["load"].state is NodeState.INTERRUPTED
    assert interrupted.nodes["total"].state is NodeState.PENDING  # left for a resume
    assert final_state(interrupted, NodeState.INTERRUPTED) is RunState.INTERRUPTED
    assert final_state(run_record(_previous()), None) is RunState.FAILED


def test_the_result_entry_is_an_artifact_a_literal_or_a_combination():
    artifact = Artifact("/run/artifacts/f/o.pkl", "artifacts/f/o.pkl", "s" * 64, "f", "o")
    assert result_entry(artifact) == {"node": "f", "output": "o", "path": "artifacts/f/o.pkl"}
    assert result_entry(Value("(1, 2)", (1, 2))) == {"literal": "(1, 2)"}
    assert result_entry(Value("3", 3)) == {"value": 3}
    assert result_entry(Combined("list", (artifact,))) == {
        "combined": {"list": [{"path": "artifacts/f/o.pkl"}]}
    }
