"""A pipeline whose names collide with the generated code runs under `pipec run` as in plain Python."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from conftest import pipec_run_exists, run_eagerly, run_pipec

# Steps named after the locals of the runner pipec once generated, a helper named like the glue
# node that calls it, gzip's `open` at module level, and a module that replaces builtins the
# runner uses (`print`, `len`, `sorted`). The runner must read none of them.
SOURCE = '''
import builtins
import functools
from gzip import open

from pipec import PipelineDecorator

print = functools.partial(builtins.print, "[log]")
SEPARATOR = ", "


def len(items):
    """The module's own len: counts from one."""
    return builtins.len(items) + 1


def sorted(items):
    """The module's own sorted: longest first."""
    return builtins.sorted(items, key=lambda item: (-builtins.len(item), item))


def glue_1(words):
    return [word.lower() for word in words]


@PipelineDecorator.component(return_values=["path"])
def path(folder: str, words: list):
    target = folder + "/words.txt.gz"
    with open(target, "wt") as stream:
        stream.write(" ".join(words))
    return target


@PipelineDecorator.component(return_values=["text"])
def text(path: str):
    with open(path, "rt") as stream:
        return stream.read()


@PipelineDecorator.component(return_values=["values"])
def values(text: str):
    return text.split()


@PipelineDecorator.component(return_values=["first", "rest"])
def pair(values: list):
    return values[0], values[1:]


@PipelineDecorator.component(return_values=["args"])
def args(first: str, rest: list):
    return [first, *rest[:3]]


@PipelineDecorator.component(return_values=["kwargs"])
def kwargs(args: list):
    return {word: len(word) for word in args}


@PipelineDecorator.component(return_values=["outputs"])
def outputs(kwargs: dict):
    return sorted(kwargs)


@PipelineDecorator.component(return_values=["sys"])
def sys(outputs: list):
    return SEPARATOR.join(outputs)


@PipelineDecorator.component(return_values=["main"])
def main(sys: str):
    return sys.upper()


@PipelineDecorator.component(return_values=["fail"])
def fail(main: str):
    return "CAT" not in main


@PipelineDecorator.component(return_values=["result"])
def result(fail: bool, main: str, kwargs: dict):
    return {"main": main, "fail": fail, "sizes": kwargs}


@PipelineDecorator.pipeline(name="collisions", project="tests", version="1")
def controller(folder: str, sentence: str = "The Cat saw the Dog and the Bird"):
    words = glue_1(sentence.split())
    print("words:", words, len(words))
    found = values(text(path(folder, words)))
    first, rest = pair(found)
    sizes = kwargs(args(first, rest))
    joined = main(sys(outputs(sizes)))
    answer = result(fail(joined), joined, sizes)
    print("result:", answer["main"], sorted(answer["sizes"]))
    return answer
'''

STEPS = ["path", "text", "values", "pair", "args", "kwargs", "outputs", "sys", "main", "fail"]


@pytest.mark.skipif(not pipec_run_exists(), reason="`pipec run` is not there")
def test_names_of_the_users_module_do_not_reach_the_runner(build_inline, tmp_path: Path):
    build = build_inline(SOURCE, name="collisions")
    nodes = {node["name"]: node for node in build.manifest["nodes"]}
    assert set(STEPS + ["result", "glue_1"]) <= set(nodes)
    assert "def glue_1(words)" in (build.folder / nodes["glue_1"]["script"]).read_text()

    plain_folder, pipec_folder = tmp_path / "plain", tmp_path / "pipec"
    plain_folder.mkdir()
    pipec_folder.mkdir()
    expected = run_eagerly(build.source, "controller", folder=str(plain_folder))
    runs = tmp_path / "runs"
    done = run_pipec(
        "run",
        build.folder,
        "--runs-dir",
        runs,
        "--cache-dir",
        tmp_path / "cache",
        f"--param=folder={str(pipec_folder)!r}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.stdout
    assert expected.stdout.startswith("[log] words: ")

    (run_dir,) = runs.iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert pickle.loads((run_dir / record["result"]["path"]).read_bytes()) == expected.result
    metas = sorted(run_dir.rglob("*.meta.json"))
    assert metas, "no outputs were written"
    for meta in metas:  # plain JSON text, not written with the module's gzip `open`
        assert json.loads(meta.read_text())["python"]
