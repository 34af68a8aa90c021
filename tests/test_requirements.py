"""Requirements per step: pip's names, pins from the build environment, guesses reported."""

from __future__ import annotations

import json

from conftest import run_pipec
from golden_build import STATIC_ENVIRONMENT, build_example, build_file

from pipec.compiler.requirements import (
    Requirement,
    StaticEnvironment,
    resolve_alternatives,
    resolve_requirements,
)

NOTHING_INSTALLED = StaticEnvironment({})


def names(requirements: list[Requirement]) -> list[str]:
    return [str(r) for r in requirements]


def specifiers(text: bytes) -> list[str]:
    """The requirement lines of a requirements file, without comments."""
    lines = (line.split("#", 1)[0].strip() for line in text.decode().splitlines())
    return [line for line in lines if line]


def step_requirements(manifest) -> dict[str, list[str]]:
    """Step node -> its requirements, from manifest.json as written."""
    return {n["name"]: n["requirements"] for n in manifest["nodes"] if n["kind"] == "step"}


def test_iris_without_anything_installed_names_pip_distributions_unpinned():
    result = build_example("iris", NOTHING_INSTALLED)
    assert step_requirements(json.loads(result.files["manifest.json"])) == {
        "load_table": ["numpy"],
        # They load arrays the step before made: numpy unpickles them.
        "split_dataset": ["numpy", "scikit-learn"],
        "train_model": ["numpy", "scikit-learn"],
    }
    assert specifiers(result.files["requirements.txt"]) == ["numpy", "scikit-learn"]
    assert specifiers(result.files["requirements/split_dataset.txt"]) == ["numpy", "scikit-learn"]


def test_iris_with_packages_installed_pins_them():
    result = build_example("iris", STATIC_ENVIRONMENT)
    assert step_requirements(json.loads(result.files["manifest.json"])) == {
        "load_table": ["numpy==2.0.0"],
        "split_dataset": ["numpy==2.0.0", "scikit-learn==1.5.0"],
        "train_model": ["numpy==2.0.0", "scikit-learn==1.5.0"],
    }


def test_standard_library_future_and_local_modules_are_dropped():
    modules = ["os.path", "json", "__future__", "sys", "mylib", "mylib.io", "collections.abc"]
    assert resolve_requirements(modules, NOTHING_INSTALLED, local=["mylib"]) == []


def test_pipreqs_mapping_names_what_is_not_installed():
    resolved = resolve_requirements(["yaml", "PIL.Image"], NOTHING_INSTALLED)
    assert names(resolved) == ["Pillow", "PyYAML"]
    assert {r.origin for r in resolved} == {"mapped"}


def test_pipecs_fixes_of_the_pipreqs_mapping():
    resolved = resolve_requirements(
        ["cv2", "skimage.io", "fitz", "ruamel.yaml", "sklearn.svm"], NOTHING_INSTALLED
    )
    assert sorted(names(resolved)) == sorted(
        ["opencv-python", "scikit-image", "PyMuPDF", "ruamel.yaml", "scikit-learn"]
    )


def test_a_namespace_package_is_picked_by_its_dotted_path():
    environment = StaticEnvironment(
        {
            "google": {
                "google-cloud-bigquery": ("3.25.0", ("google.cloud.bigquery",)),
                "google-cloud-storage": ("2.18.0", ("google.cloud.storage",)),
            }
        }
    )
    assert names(resolve_requirements(["google.cloud.storage"], environment)) == [
        "google-cloud-storage==2.18.0"
    ]
    assert names(resolve_requirements(["google.cloud.bigquery"], environment)) == [
        "google-cloud-bigquery==3.25.0"
    ]


def test_an_installed_distribution_wins_over_the_mapping():
    environment = StaticEnvironment({"yaml": {"PyYAML": ("6.0.1", ("yaml",))}})
    resolved = resolve_requirements(["yaml"], environment)
    assert resolved == [Requirement("PyYAML", "==6.0.1", "installed")]


def test_an_unknown_module_is_guessed():
    assert resolve_requirements(["frobnicate"], NOTHING_INSTALLED) == [
        Requirement("frobnicate", "", "guessed")
    ]


def test_a_guessed_requirement_is_a_warning_at_the_step(build_inline):
    build = build_inline(
        """
        import frobnicate

        from pipec import PipelineDecorator


        @PipelineDecorator.component(return_values=["out"])
        def step(x):
            return frobnicate.twist(x)


        @PipelineDecorator.pipeline(name="guess", project="tests", version="1")
        def controller(x: int = 1):
            return step(x)
        """
    )
    assert step_requirements(build.manifest) == {"step": ["frobnicate"]}
    result = build_file(build.source, "pipeline/pipeline.py", NOTHING_INSTALLED)
    warnings = [d for d in result.diagnostics if not d.is_error]
    assert any("frobnicate" in d.message and d.location.line == 7 for d in warnings), (
        result.diagnostics
    )


def test_packages_option_overrides_detection(build_inline):
    build = build_inline(
        """
        from pipec import PipelineDecorator


        @PipelineDecorator.component(return_values=["out"], packages=["scikit-learn>=1.4", "pandas"])
        def step(x):
            import numpy as np
            import sklearn

            return np.asarray([x, sklearn.__version__])


        @PipelineDecorator.pipeline(name="declared", project="tests", version="1")
        def controller(x: int = 1):
            return step(x)
        """,
        environment=STATIC_ENVIRONMENT,
    )
    assert step_requirements(build.manifest) == {"step": ["scikit-learn>=1.4", "pandas"]}
    text = (build.folder / "requirements" / "step.txt").read_bytes()
    assert specifiers(text) == ["scikit-learn>=1.4", "pandas"]


ALTERNATIVES = """
    try:
        import ujson as json
    except ImportError:
        import json

    from pipec import PipelineDecorator


    @PipelineDecorator.component(return_values=["text"])
    def dump(x):
        return json.dumps({"x": x})


    @PipelineDecorator.pipeline(name="alternatives", project="tests", version="1")
    def controller(x: int = 1):
        return dump(x)
    """


def test_an_import_fallback_names_the_installed_alternative_which_no_run_demands(
    build_inline, tmp_path
):
    installed = StaticEnvironment({"ujson": {"ujson": ("5.10.0", ("ujson",))}})
    build = build_inline(ALTERNATIVES, environment=installed)
    lines = (build.folder / "requirements" / "dump.txt").read_text().splitlines()
    assert "ujson==5.10.0  # optional: the code can import json instead" in lines
    assert "ujson==5.10.0" in (build.folder / "requirements.txt").read_text()
    # The run's requirement check demands nothing: this host has no ujson, and json does the job.
    assert step_requirements(build.manifest) == {"dump": []}
    done = run_pipec("run", build.folder, "--runs-dir", tmp_path / "runs")
    assert done.returncode == 0, done.stderr


def test_alternatives_are_tried_in_the_codes_order():
    nothing = NOTHING_INSTALLED
    # The first that pip knows is named; the standard library or a local module first needs none.
    assert names(resolve_alternatives([("pipec_unknown", "yaml")], nothing)) == ["PyYAML"]
    assert resolve_alternatives([("pipec_unknown", "yaml")], nothing)[0].fallback == (
        "pipec_unknown"
    )
    assert resolve_alternatives([("tomllib", "tomli")], nothing) == []
    assert resolve_alternatives([("mylib", "yaml")], nothing, local=["mylib"]) == []
    assert resolve_alternatives([("pipec_unknown", "pipec_unknown_too")], nothing) == []
    assert resolve_requirements(["ujson"], nothing)[0].origin == "guessed"
