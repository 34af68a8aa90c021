"""Generated scripts run by hand: same results as calling the function, --help, output metadata."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cloudpickle
import numpy as np
import pytest
from golden_build import EXAMPLES, build_example, example_names, write_tree


@pytest.fixture(scope="module")
def iris_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("iris-build")
    write_tree(build_example("iris").files, folder)
    return folder


@pytest.fixture(scope="module")
def iris_module() -> ModuleType:
    """The example imported as plain Python (the eager drop-in): the reference the scripts must match."""
    spec = importlib.util.spec_from_file_location(
        "iris_reference", EXAMPLES / "iris" / "pipeline.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(script: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def dump(value: object, path: Path) -> str:
    with open(path, "wb") as file:
        pickle.dump(value, file)
    return str(path)


def load(path: Path) -> object:
    with open(path, "rb") as file:
        return pickle.load(file)


def test_iris_steps_by_hand_return_what_the_functions_return(
    iris_build: Path, iris_module: ModuleType, iris_url: str, tmp_path: Path
):
    steps = iris_build / "steps"

    done = run_script(
        steps / "load_table.py",
        tmp_path,
        f"--value=url={iris_url!r}",
        "--output",
        f"features={tmp_path / 'features.pkl'}",
    )
    assert done.returncode == 0, done.stderr
    # `labels` was not named: it goes to ./labels.pkl
    features, labels = iris_module.load_table(iris_url)
    np.testing.assert_array_equal(load(tmp_path / "features.pkl"), features)
    np.testing.assert_array_equal(load(tmp_path / "labels.pkl"), labels)

    split_names = ["X_train", "X_test", "y_train", "y_test"]
    done = run_script(
        steps / "split_dataset.py",
        tmp_path,
        "--input",
        f"features={tmp_path / 'features.pkl'}",
        "--input",
        f"labels={dump(labels, tmp_path / 'labels-by-hand.pkl')}",
        "--value",
        "test_size=0.3",
        *[f"--output={name}={tmp_path / name}.pkl" for name in split_names],
    )
    assert done.returncode == 0, done.stderr
    expected = iris_module.split_dataset(features, labels, test_size=0.3)
    for name, value in zip(split_names, expected, strict=True):
        np.testing.assert_array_equal(load(tmp_path / f"{name}.pkl"), value)
    X_train, X_test, y_train, _ = expected

    done = run_script(
        steps / "train_model.py",
        tmp_path,
        "--input",
        f"X_train={tmp_path / 'X_train.pkl'}",
        "--input",
        f"y_train={tmp_path / 'y_train.pkl'}",
        "--value",
        "c=0.5",
        "--output",
        f"model={tmp_path / 'model.pkl'}",
    )
    assert done.returncode == 0, done.stderr
    model = load(tmp_path / "model.pkl")
    reference = iris_module.train_model(X_train, y_train, c=0.5)
    assert repr(model) == repr(reference)
    np.testing.assert_array_equal(model.predict(X_test), reference.predict(X_test))
    np.testing.assert_allclose(model.coef_, reference.coef_)


def test_iris_glue_by_hand_computes_the_controller_statements(iris_build: Path, tmp_path: Path):
    X_train = np.arange(24.0).reshape(6, 4)
    X_test = np.arange(8.0).reshape(2, 4)
    glue = json.loads((iris_build / "manifest.json").read_text())["nodes"]
    cut = next(n for n in glue if n["kind"] == "glue" and n["outputs"] == ["X_train", "X_test"])
    done = run_script(
        iris_build / cut["script"],
        tmp_path,
        "--input",
        f"X_train={dump(X_train, tmp_path / 'in-train.pkl')}",
        "--input",
        f"X_test={dump(X_test, tmp_path / 'in-test.pkl')}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "training on 6 rows, testing on 2\n"
    np.testing.assert_array_equal(load(tmp_path / "X_train.pkl"), X_train[:, 2:])
    np.testing.assert_array_equal(load(tmp_path / "X_test.pkl"), X_test[:, 2:])


def test_every_output_has_its_meta_file(iris_build: Path, iris_url: str, tmp_path: Path):
    done = run_script(
        iris_build / "steps" / "load_table.py", tmp_path, "--value", f"url={iris_url!r}"
    )
    assert done.returncode == 0, done.stderr
    for name in ("features", "labels"):
        data = (tmp_path / f"{name}.pkl").read_bytes()
        meta = json.loads((tmp_path / f"{name}.pkl.meta.json").read_text())
        # Plain arrays need no cloudpickle: the script writes them with the standard pickle.
        assert meta["format"] == "pickle"
        assert meta["python"] == "{}.{}".format(*sys.version_info[:2])
        assert meta["cloudpickle"] is None
        assert meta["size"] == len(data)
        assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "features.pkl",
        "features.pkl.meta.json",
        "labels.pkl",
        "labels.pkl.meta.json",
    ], "temporary files were left behind"


def test_an_input_from_another_python_is_refused(iris_build: Path, tmp_path: Path):
    features = dump(np.zeros((4, 2)), tmp_path / "features.pkl")
    here = "{}.{}".format(*sys.version_info[:2])
    other = f"3.{sys.version_info[1] + 1}"
    meta = {"format": "cloudpickle", "python": other, "cloudpickle": cloudpickle.__version__}
    Path(features + ".meta.json").write_text(json.dumps(meta))
    labels = dump(np.zeros(4), tmp_path / "labels.pkl")
    done = run_script(
        iris_build / "steps" / "split_dataset.py",
        tmp_path,
        "--input",
        f"features={features}",
        "--input",
        f"labels={labels}",
    )
    assert done.returncode == 3, done.stderr
    assert other in done.stderr and here in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "X_train.pkl").exists()


@pytest.mark.parametrize("example", example_names())
def test_every_script_has_help(example: str, tmp_path: Path):
    write_tree(build_example(example).files, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    scripts = sorted({node["script"] for node in manifest["nodes"]})
    running = {
        script: subprocess.Popen(
            [sys.executable, str(tmp_path / script), "--help"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in scripts
    }
    for script, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, f"{script} --help: {stderr}"
        assert "--input NAME=PATH" in stdout and "--output NAME=PATH" in stdout, stdout
    assert sorted(p.name for p in tmp_path.rglob("*.pkl")) == [], "--help wrote outputs"


@pytest.mark.skipif("showcase" not in example_names(), reason="examples/showcase is not there")
def test_showcase_steps_by_hand_pass_a_class_between_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(EXAMPLES / "showcase"))
    spec = importlib.util.spec_from_file_location(
        "showcase_reference", EXAMPLES / "showcase" / "pipeline.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    build = tmp_path / "build"
    write_tree(build_example("showcase").files, build)
    steps = build / "steps"
    text = "The cat and the dog of the house: the cat sleeps, the dog barks at the cat."

    done = run_script(steps / "clean.py", tmp_path, "--value", f"text={text!r}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "running clean\n"  # the stacked `logged` decorator came along
    assert load(tmp_path / "words.pkl") == module.clean(text)

    done = run_script(steps / "count.py", tmp_path, "--input", f"words={tmp_path / 'words.pkl'}")
    assert done.returncode == 0, done.stderr
    # summarise.py has no WordCounts class: the pickle names it in the pipeline file's home,
    # steps/_pipec_pipeline.py, where summarise.py finds it.
    assert "class WordCounts" not in (steps / "summarise.py").read_text()
    assert "class WordCounts" in (steps / "_pipec_pipeline.py").read_text()
    meta = json.loads((tmp_path / "counts.pkl.meta.json").read_text())
    assert (meta["format"], meta["cloudpickle"]) == ("pickle", None)
    assert json.loads((tmp_path / "words.pkl.meta.json").read_text())["format"] == "pickle"
    done = run_script(
        steps / "summarise.py",
        tmp_path,
        "--input",
        f"counts={tmp_path / 'counts.pkl'}",
        "--value",
        "n=2",
    )
    assert done.returncode == 0, done.stderr
    assert load(tmp_path / "summary.pkl") == module.summarise(module.count(module.clean(text)), n=2)


def test_a_large_array_goes_through_a_step_script(tmp_path: Path, build_inline):
    # Buffers of 64 KiB or more reach the writer as pickle.PickleBuffer objects.
    build = build_inline(
        """
        from pipec import PipelineDecorator


        @PipelineDecorator.component(return_values=["table"])
        def make(n: int):
            import numpy as np

            return np.arange(n, dtype=float).reshape(-1, 10)


        @PipelineDecorator.pipeline(name="big", project="t", version="1")
        def controller(n: int = 200_000):
            return make(n)
        """,
        name="big",
    )
    done = run_script(build.folder / "steps" / "make.py", tmp_path, "--value", "n=200000")
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "table.pkl").read_bytes()
    meta = json.loads((tmp_path / "table.pkl.meta.json").read_text())
    assert meta["size"] == len(data) and meta["sha256"] == hashlib.sha256(data).hexdigest()
    table = load(tmp_path / "table.pkl")
    assert table.shape == (20_000, 10) and table[-1, -1] == 199_999.0
