"""The compiler's pure core: source text in, the build folder's files out. No I/O happens here.

The passes, in the order `build` runs them (docs/architecture.md says what each takes and gives):
parse (`source`, `parse`) -> analyse (`analyse` for components, `pipeline` for the pipeline) ->
trace (`trace`) -> lower (`lower`, which resolves requirements and local modules) -> emit (`emit`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.compiler.analyse import analyse_components
from pipec.compiler.clearml_calls import report_server_calls
from pipec.compiler.dag import stages
from pipec.compiler.deep_stack import call_on_deep_stack
from pipec.compiler.diagnostics import Diagnostic, Reporter, UserError
from pipec.compiler.emit import emit_build, generator_name
from pipec.compiler.import_kinds import ModulePlaces
from pipec.compiler.ir import StepNode
from pipec.compiler.local_modules import LocalIndex, LocalModule, ProjectFiles
from pipec.compiler.lower import lower
from pipec.compiler.parse import find_decorated
from pipec.compiler.pipeline import analyse_pipeline, select_pipeline
from pipec.compiler.pipeline_module import home_support
from pipec.compiler.portability import check_portable
from pipec.compiler.requirements import Environment
from pipec.compiler.source import parse_source
from pipec.compiler.star_imports import check_star_reads, read_star_imports
from pipec.compiler.trace import trace_controller
from pipec.compiler.trusted_stars import TrustedReads
from pipec.manifest import Manifest

__all__ = ["BuildResult", "LocalModule", "ProjectFiles", "build", "pipeline_slug"]


@dataclass(frozen=True)
class BuildResult:
    name: str  # folder name of the build: the pipeline's name, made safe for a path
    files: Mapping[str, bytes]
    manifest: Manifest
    diagnostics: tuple[Diagnostic, ...]
    stages: tuple[tuple[str, ...], ...]  # node names in waves that could run together


def pipeline_slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return slug or "pipeline"


def build(
    text: str,
    path: str,
    *,
    environment: Environment,
    project: ProjectFiles,
    pipeline: str | None = None,
    regenerate: str | None = None,
    strict_clearml: bool = False,
    pins: str = "exact",
) -> BuildResult:
    """Compile one pipeline file. Raises UserError with every diagnostic when the file is wrong."""
    return call_on_deep_stack(
        lambda: _build(
            text, path, environment, project, pipeline, regenerate, strict_clearml, pins
        ),
        path,
    )


def _build(
    text: str,
    path: str,
    environment: Environment,
    project: ProjectFiles,
    pipeline: str | None,
    regenerate: str | None,
    strict_clearml: bool,
    pins: str,
) -> BuildResult:
    source = parse_source(text, path)
    reporter = Reporter()
    parsed = find_decorated(source, reporter)
    controller = select_pipeline(parsed, pipeline, reporter)
    stars = read_star_imports(source, project, environment)
    # One PC614 warning for the names steps and glue alike take on trust from installed packages.
    trusted = TrustedReads(stars.unread)
    components = analyse_components(parsed, reporter, stars, trusted)
    report_server_calls(parsed, reporter, strict=strict_clearml)
    if controller is None:
        trusted.report(reporter)
        raise UserError(reporter.diagnostics)
    info = analyse_pipeline(parsed, controller, reporter)
    trace = trace_controller(
        parsed,
        components,
        controller,
        tuple(p.name for p in info.parameters),
        reporter,
        ModulePlaces(project, environment),
    )
    check_star_reads(stars, trace.star_reads, reporter, trusted)
    trusted.report(reporter)
    used = {n.component for n in trace.nodes if isinstance(n, StepNode)}
    check_portable(info, components, used, source.location(controller.function), reporter)
    if reporter.has_errors:
        raise UserError(reporter.diagnostics)

    stem_of_path = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    lowered = lower(
        info,
        components,
        trace,
        source_path=path,
        generator=generator_name(),
        local=LocalIndex(project, reporter, stem_of_path),
        environment=environment,
        project=project,
        reporter=reporter,
        pins=pins,
        home=home_support(parsed),
    )
    if reporter.has_errors:
        raise UserError(reporter.diagnostics)
    files, manifest = emit_build(
        lowered, regenerate=regenerate or f"pipec build {path}", source_text=text
    )
    waves = stages(trace.graph, [node.name for node in trace.nodes])
    return BuildResult(pipeline_slug(info.name), files, manifest, reporter.diagnostics, waves)
