"""The compiler's pure core: source text in, the build folder's files out. No I/O happens here.

The passes, in the order `build` runs them (docs/architecture.md says what each takes and gives):
parse (`source`, `parse`) -> analyse (`analyse` for components, `pipeline` for the pipeline) ->
trace (`trace`) -> lower (`lower`, which resolves requirements and local modules) -> emit (`emit`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from pipec.compiler.analyse import Component, analyse_components
from pipec.compiler.clearml_calls import report_module_level_calls, report_server_calls
from pipec.compiler.dag import stages
from pipec.compiler.deep_stack import call_on_deep_stack
from pipec.compiler.diagnostics import Diagnostic, Reporter, UserError
from pipec.compiler.emit import emit_build, generator_name
from pipec.compiler.enclosed_pipeline import Lifting, lift_enclosed_pipeline, restore_locations
from pipec.compiler.file_defaults import BuildPlace
from pipec.compiler.file_reads import pin_build, report_file_read
from pipec.compiler.frame_reads import check_frame_reads
from pipec.compiler.import_kinds import ModulePlaces
from pipec.compiler.import_order import reads_before_binding
from pipec.compiler.ir import StepNode, Trace
from pipec.compiler.late_closures import check_late_closures
from pipec.compiler.lazy_generators import check_generator_controller, check_lazy_generators
from pipec.compiler.local_modules import LocalIndex, LocalModule, ProjectFiles, imports_of_source
from pipec.compiler.lower import lower
from pipec.compiler.parse import find_decorated
from pipec.compiler.pipeline import analyse_pipeline, select_pipeline
from pipec.compiler.pipeline_module import home_support
from pipec.compiler.portability import check_portable
from pipec.compiler.requirements import Environment
from pipec.compiler.reserved_names import check_reserved_names
from pipec.compiler.source import SourceModule, parse_source
from pipec.compiler.star_imports import check_star_reads, read_star_imports
from pipec.compiler.step_globals import check_step_globals
from pipec.compiler.trace import trace_controller
from pipec.compiler.trusted_stars import TrustedReads
from pipec.manifest import Manifest

__all__ = ["BuildPlace", "BuildResult", "LocalModule", "ProjectFiles", "build", "pipeline_slug"]


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
    place: BuildPlace | None = None,
) -> BuildResult:
    """Compile one pipeline file. Raises UserError with every diagnostic when the file is wrong.

    `place` is where the file sits on this host: what `__file__` means in every script of the
    build (docs/build-output.md). Without it, `path` as given stands for it.
    """
    return call_on_deep_stack(
        lambda: _build(
            text,
            path,
            environment,
            project,
            pipeline,
            regenerate,
            strict_clearml,
            pins,
            place or BuildPlace(path),
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
    place: BuildPlace,
) -> BuildResult:
    source = parse_source(text, path)
    too_early = reads_before_binding(source)  # Python could not even import the file
    if too_early:
        raise UserError(too_early)
    lifting = lift_enclosed_pipeline(source)
    lifted = source if lifting.text is None else parse_source(lifting.text, path)
    try:
        result = _build_parsed(
            lifted,
            lifting,
            text,
            environment,
            project,
            pipeline,
            regenerate,
            strict_clearml,
            pins,
            place,
        )
    except UserError as error:  # back at the user's lines (unchanged when nothing was lifted)
        raise UserError(restore_locations(error.diagnostics, lifting)) from None
    return replace(result, diagnostics=restore_locations(result.diagnostics, lifting))


def _build_parsed(
    source: SourceModule,
    lifting: Lifting,
    text: str,
    environment: Environment,
    project: ProjectFiles,
    pipeline: str | None,
    regenerate: str | None,
    strict_clearml: bool,
    pins: str,
    place: BuildPlace,
) -> BuildResult:
    path = source.path
    reporter = Reporter()
    for refusal in lifting.refusals:
        reporter.add(refusal)
    parsed = find_decorated(source, reporter, explained=lifting.explained)
    check_reserved_names(source, reporter)
    controller = select_pipeline(parsed, pipeline, reporter)
    stars = read_star_imports(source, project, environment)
    # One PC614 warning for the names steps and glue alike take on trust from installed packages.
    trusted = TrustedReads(stars.unread)
    components = analyse_components(parsed, reporter, stars, trusted)
    module_level_calls = report_server_calls(parsed, reporter, strict=strict_clearml)
    if controller is None:
        trusted.report(reporter)
        raise UserError(reporter.diagnostics)
    info = analyse_pipeline(parsed, controller, reporter, place)
    check_generator_controller(source, controller.function, reporter)
    check_lazy_generators(source, controller.function, components, reporter)
    check_late_closures(source, controller.function, reporter)
    check_frame_reads(source, controller.function, reporter)
    if info.file_in_defaults:  # said before any refusal: a default may be the refused one
        report_file_read(source, reporter)
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
    report_module_level_calls(
        module_level_calls, _carriers(trace, components), reporter, strict=strict_clearml
    )
    check_portable(info, components, used, source.location(controller.function), reporter)
    stem_of_path = path.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    local = LocalIndex(
        project,
        reporter,
        stem_of_path,
        wanted=imports_of_source(path, source.text),
        installed=lambda name: bool(environment.distributions(name)),
    )
    # Before lowering: a step's change to a local module's value is refused like one of the file's.
    check_step_globals(source, components, trace, controller.function, local.lookup, reporter)
    if reporter.has_errors:
        raise UserError(reporter.diagnostics)

    lowered = lower(
        info,
        components,
        trace,
        source_path=path,
        generator=generator_name(),
        local=local,
        environment=environment,
        project=project,
        reporter=reporter,
        pins=pins,
        home=home_support(parsed),
    )
    if reporter.has_errors:
        raise UserError(reporter.diagnostics)
    pinned = pin_build(
        lowered,
        source,
        place,
        reporter,
        module_folders={
            name: module.folder
            for name, module in local.found.items()
            if module is not None and module.folder is not None
        },
        file_in_defaults=info.file_in_defaults,
    )
    files, manifest = emit_build(
        pinned.lowered,
        regenerate=regenerate or f"pipec build {path}",
        source_text=pinned.source_text,
    )
    waves = stages(trace.graph, [node.name for node in trace.nodes])
    return BuildResult(pipeline_slug(info.name), files, manifest, reporter.diagnostics, waves)


def _carriers(trace: Trace, components: Mapping[str, Component]) -> dict[int, list[str]]:
    """Module statement index -> the scripts that carry it (`step `train``, `controller code
    `glue_1``), in program order."""
    carriers: dict[int, list[str]] = {}
    for node in trace.nodes:
        if isinstance(node, StepNode):
            statements, what = components[node.component].support.statements, "step"
        else:
            statements, what = node.support.statements, "controller code"
        for index in statements:
            carriers.setdefault(index, []).append(f"{what} `{node.name}`")
    return carriers
