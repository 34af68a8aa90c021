"""The step runner module (pipec.step_runner), tested directly, and its copies in generated scripts."""

from __future__ import annotations

import ast
import dis
import hashlib
import json
import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType

import cloudpickle
import pytest
from golden_build import build_example, example_names

from pipec import step_runner
from pipec.step_runner import runner_code

PYTHON = "{}.{}".format(*sys.version_info[:2])


def main(
    function: Callable[..., object],
    *argv: str,
    parameters: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    outputs: tuple[str, ...] = ("out",),
    split: str = "one",
) -> int:
    status: int = step_runner._pipec_main(
        function, "The test step.", list(argv), parameters, required, outputs, split
    )
    return status


def dump(value: object, path: Path, meta: dict[str, object] | None = None) -> str:
    path.write_bytes(pickle.dumps(value))
    if meta is not None:
        Path(f"{path}.meta.json").write_text(json.dumps(meta))
    return str(path)


def load(path: Path) -> object:
    return pickle.loads(path.read_bytes())


def meta_of(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(Path(f"{path}.meta.json").read_text())
    return data


# -- the copy in every script ------------------------------------------------------------------


def test_the_runner_text_is_this_module_between_its_markers():
    text = runner_code()
    source = Path(step_runner.__file__).read_text(encoding="utf-8")
    assert text.startswith("# pipec's step runner (pipec/step_runner.py)")
    assert text in source and text.endswith("\n") and not text.endswith("\n\n")
    assert "def _pipec_run(" in text and "def runner_code" not in text
    assert "__all__" not in text and "from __future__" not in text
    ast.parse(text)


@pytest.mark.parametrize("example", example_names())
def test_every_generated_script_carries_the_runner_byte_for_byte(example: str):
    text = runner_code()
    files = build_example(example).files
    scripts = {path: data.decode() for path, data in files.items() if path.startswith("steps/")}
    manifest = json.loads(files["manifest.json"])
    for node in manifest["nodes"]:
        script = scripts[node["script"]]
        function = node["function"] or f"_pipec_{node['name']}"
        # The user's code, then the runner, then only the call that starts it.
        before, runner, call = script.partition(text)
        assert runner == text, node["script"]
        assert f"def {function}(" in before
        assert call.startswith(
            f'\n\nif __name__ == "__main__":\n    _pipec_run(\n        {function},'
        )


# -- immunity to the user's names --------------------------------------------------------------

_GLOBAL_READS = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS", "DELETE_GLOBAL"}
_GLOBAL_WRITES = {"STORE_GLOBAL", "STORE_NAME", "DELETE_NAME"}


def _ours(name: str) -> bool:
    return name.startswith(("_pipec_", "_Pipec"))


def _code_objects(code: CodeType) -> Iterator[CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _code_objects(constant)


def test_the_runner_reads_and_defines_no_global_the_users_code_could_shadow():
    module = compile(runner_code(), "runner", "exec")
    for code in _code_objects(module):
        class_body = code is not module and not code.co_flags & 0x1  # not CO_OPTIMIZED
        for instruction in dis.get_instructions(code):
            name = instruction.argval
            if instruction.opname in _GLOBAL_READS:
                # Python itself reads `__name__` in a class body (it becomes __module__).
                allowed = _ours(name) or class_body and name == "__name__"
                assert allowed, f"{code.co_name} reads the global {name!r}"
            if instruction.opname in _GLOBAL_WRITES and not class_body:
                assert _ours(name), f"the runner defines {name!r}"


# -- loading inputs ----------------------------------------------------------------------------


def test_inputs_load_from_pickle_files_and_values_from_literals(tmp_path: Path):
    seen: dict[str, object] = {}

    def step(a: object, b: object, c: object = "default") -> object:
        seen.update(a=a, b=b, c=c)
        return [a, b, c]

    plain = dump({"x": 1}, tmp_path / "a.pkl")
    status = main(
        step,
        "--input",
        f"a={plain}",
        "--value=b=(1, 'two')",
        f"--output=out={tmp_path / 'out.pkl'}",
        parameters=("a", "b", "c"),
        required=("a", "b"),
    )
    assert status == 0
    assert seen == {"a": {"x": 1}, "b": (1, "two"), "c": "default"}
    assert load(tmp_path / "out.pkl") == [{"x": 1}, (1, "two"), "default"]


def test_an_input_written_by_cloudpickle_loads_with_its_meta_file(tmp_path: Path):
    path = tmp_path / "f.pkl"
    path.write_bytes(cloudpickle.dumps(lambda n: n * 3))
    meta = {"format": "cloudpickle", "python": PYTHON, "cloudpickle": cloudpickle.__version__}
    Path(f"{path}.meta.json").write_text(json.dumps(meta))
    function = step_runner._pipec_load(str(path))
    assert callable(function) and function(2) == 6


def test_at_file_inputs_combine_paths_and_literals(tmp_path: Path):
    first = dump([1, 2], tmp_path / "first.pkl")
    spec = {
        "dict": [
            ["'items'", {"list": [{"path": first}, {"literal": "3"}]}],
            ["(1, 2)", {"tuple": [{"literal": "'a'"}, {"literal": "None"}]}],
        ]
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert step_runner._pipec_load(f"@{tmp_path / 'spec.json'}") == {
        "items": [[1, 2], 3],
        (1, 2): ("a", None),
    }
    with pytest.raises(ValueError, match="unknown input entry"):
        step_runner._pipec_combine({"set": []})


@pytest.mark.parametrize(
    ("field", "written_by", "running"),
    [("python", "2.7", PYTHON), ("cloudpickle", "0.0.1", cloudpickle.__version__)],
)
def test_an_input_from_another_version_is_refused_with_status_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, written_by: str, running: str
):
    meta = {"format": "cloudpickle", "python": PYTHON, "cloudpickle": cloudpickle.__version__}
    meta[field] = written_by
    path = dump(1, tmp_path / "a.pkl", meta)
    status = main(
        lambda a: a,
        "--input",
        f"a={path}",
        f"--output=out={tmp_path / 'out.pkl'}",
        parameters=("a",),
    )
    assert status == 3
    error = capsys.readouterr().err
    assert error.startswith(f"error: {path} was written by ")
    assert written_by in error and running in error
    assert not (tmp_path / "out.pkl").exists()


LITERALS = [
    "0",
    "7",
    "-12",
    "012",
    "+5",
    "1_000",
    "0x1F",
    "1.5",
    "-.5",
    "1e5",
    "1E-3",
    "5.",
    "1.2.3",
    "e5",
    "inf",
    "'text'",
    '"text"',
    "'it''s'",
    "'a\\nb'",
    '"a\\"b"',
    "'é'",
    "''",
    "True",
    "False",
    "None",
    "true",
    "null",
    "[1, 'x']",
    "(1,)",
    "{'a': 1}",
    "{1: 2}",
    "  3  ",
    "",
]


@pytest.mark.parametrize("text", LITERALS)
def test_literals_read_exactly_as_ast_literal_eval(text: str):
    try:
        expected: object = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as error:
        with pytest.raises(type(error)):
            step_runner._pipec_literal(text)
        return
    value = step_runner._pipec_literal(text)
    assert value == expected and type(value) is type(expected)


# -- the command line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "b=x.pkl"], "unknown input 'b'; expected one of: a"),
        (["--value=a=1", "--output", "a=x.pkl"], "unknown output 'a'; expected one of: out"),
        (["--value", "a"], "expected NAME=... but got 'a'"),
        (["--value", "a=not literal"], "--value a: 'not literal' is not a Python literal"),
        ([], "missing required input(s): a"),
        (["--nothing"], "unrecognized arguments: --nothing"),
    ],
)
def test_a_bad_command_line_exits_with_status_2_and_says_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exited:
        main(lambda a: a, *argv, parameters=("a",), required=("a",))
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_help_shows_the_script_docstring(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(lambda: None, "--help")
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "The test step." in shown and "--input NAME=PATH" in shown


# -- splitting the result into outputs ---------------------------------------------------------


def test_one_output_takes_the_whole_result_and_defaults_to_name_pkl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    assert main(lambda: (1, 2), outputs=("pair",)) == 0
    assert load(tmp_path / "pair.pkl") == (1, 2)


def test_several_outputs_split_a_returned_sequence(tmp_path: Path):
    argv = [f"--output={name}={tmp_path / name}.pkl" for name in ("a", "b")]
    assert main(lambda: iter("xy"), *argv, outputs=("a", "b"), split="split") == 0
    assert (load(tmp_path / "a.pkl"), load(tmp_path / "b.pkl")) == ("x", "y")


def test_a_wrong_number_of_values_fails_with_status_4_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    def split_dataset() -> tuple[int, ...]:
        return (1, 2, 3)

    argv = [f"--output={name}={tmp_path / name}.pkl" for name in ("a", "b")]
    assert main(split_dataset, *argv, outputs=("a", "b"), split="split") == 4
    assert capsys.readouterr().err == (
        "error: split_dataset returned 3 values but return_values names 2: a, b\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_glue_outputs_come_from_a_dict_by_name(tmp_path: Path):
    argv = [f"--output={name}={tmp_path / name}.pkl" for name in ("x", "y")]
    assert main(lambda: {"y": 2, "x": 1}, *argv, outputs=("x", "y"), split="dict") == 0
    assert (load(tmp_path / "x.pkl"), load(tmp_path / "y.pkl")) == (1, 2)


@pytest.mark.parametrize(("value", "written"), [([0], "true\n"), ("", "false\n")])
def test_a_decision_is_written_as_json_without_a_meta_file(
    tmp_path: Path, value: object, written: str
):
    target = tmp_path / "decision"
    status = main(
        lambda: {"decision": value},
        f"--output=decision={target}",
        outputs=("decision",),
        split="decision",
    )
    assert status == 0
    assert target.read_text() == written and json.loads(written) is bool(value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decision"]


def test_explode_writes_one_file_per_item_then_the_count(tmp_path: Path):
    folder = tmp_path / "items"
    status = main(
        lambda: {"items": (n * n for n in range(3))},
        f"--output=items={folder}",
        outputs=("items",),
        split="explode",
    )
    assert status == 0
    assert [load(folder / f"{i}.pkl") for i in range(3)] == [0, 1, 4]
    assert json.loads((folder / "count.json").read_text()) == {"count": 3}
    assert all((folder / f"{i}.pkl.meta.json").exists() for i in range(3))


# -- writing outputs ---------------------------------------------------------------------------


def test_plain_data_is_written_with_pickle_and_described_by_its_meta_file(tmp_path: Path):
    target = tmp_path / "out.pkl"
    step_runner._pipec_save({"a": [1.5, "b"]}, str(target))
    data = target.read_bytes()
    assert meta_of(target) == {
        "format": "pickle",
        "python": PYTHON,
        "cloudpickle": None,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "preview": "{'a': [1.5, 'b']}",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pkl", "out.pkl.meta.json"]
    # The preview, quotes and all, does not stop the runner's own reader.
    assert step_runner._pipec_read_meta(f"{target}.meta.json")["size"] == len(data)


class _Table:
    """Shaped like an array: what a preview shows of a big one is its shape and dtype."""

    shape = (150, 4)
    dtype = "float64"

    def __init__(self) -> None:
        self.payload = b"x" * 10_000


def test_a_big_shaped_output_is_previewed_by_shape_and_dtype_and_a_long_one_by_length(
    tmp_path: Path,
):
    step_runner._pipec_save(_Table(), str(tmp_path / "t.pkl"))
    assert meta_of(tmp_path / "t.pkl")["preview"] == "_Table shape (150, 4) dtype float64"
    step_runner._pipec_save(list(range(5000)), str(tmp_path / "l.pkl"))
    assert meta_of(tmp_path / "l.pkl")["preview"] == "list of length 5000"
    step_runner._pipec_save('say "hi"\\', str(tmp_path / "s.pkl"))
    assert meta_of(tmp_path / "s.pkl")["preview"] == repr('say "hi"\\')


def test_functions_and_local_classes_go_through_cloudpickle(tmp_path: Path):
    class Local:
        size = 3

    target = tmp_path / "out.pkl"
    step_runner._pipec_save([lambda: 7, Local], str(target))
    function, kind = cloudpickle.loads(target.read_bytes())
    assert function() == 7 and kind.size == 3
    meta = meta_of(target)
    assert (meta["format"], meta["cloudpickle"]) == ("cloudpickle", cloudpickle.__version__)
    assert meta["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_big_buffers_are_hashed_exactly(tmp_path: Path):
    # Past 1 MiB the runner switches to hashlib, and hashes buffers of 1 MiB or more in a thread.
    value = [bytes(range(256)) * 300, bytearray(3 << 20), b"tail" * 1000]
    target = tmp_path / "big.pkl"
    step_runner._pipec_save([pickle.PickleBuffer(v) for v in value[1:2]] + value, str(target))
    data = target.read_bytes()
    assert meta_of(target)["size"] == len(data) > 3 << 20
    assert meta_of(target)["sha256"] == hashlib.sha256(data).hexdigest()


class _Unpicklable:
    def __reduce__(self) -> tuple[object, ...]:
        raise RuntimeError("cannot pickle this")


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "out.pkl"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="cannot pickle this"):
        step_runner._pipec_save(_Unpicklable(), str(target))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]


def test_meta_files_round_trip_like_json(tmp_path: Path):
    cases: list[dict[str, object]] = [
        {"format": "pickle", "python": "3.11", "cloudpickle": None, "size": 5, "sha256": "ab"},
        {"python": 'quote " inside', "size": 1},  # falls back to json
        {"python": "3.12", "cloudpickle": "3.1.3", "size": 0},
    ]
    path = tmp_path / "meta.json"
    for fields in cases:
        text = step_runner._pipec_meta_text(fields)
        assert text == json.dumps(fields, indent=2, sort_keys=True) + "\n"
        path.write_text(text)
        assert step_runner._pipec_read_meta(str(path)) == fields
        path.write_text(json.dumps(fields))  # written by someone else, on one line
        assert step_runner._pipec_read_meta(str(path)) == fields
