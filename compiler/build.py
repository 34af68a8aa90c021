"""The compiler's pure core: source text in, the build folder's files out. No I/O happens here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.analyse import (
    analyse_components,
    literal_of,
    read_options,
    read_signature,
)
from pipec.compiler.deep_stack import call_on_deep_stack
from pipec.compiler.diagnostics import Diagnostic, Location, Reporter, UserError
from pipec.compiler.emit import emit_build, generator_name
from pipec.compiler.ir import StepNode
from pipec.compiler.literals import NOT_LITERAL, read_literal
from pipec.compiler.local_modules import LocalIndex, LocalModule, ProjectFiles
from pipec.compiler.lower import lower
from pipec.compiler.parse import Decorated, ParsedFile, find_decorated
from pipec.compiler.pipeline import ParameterInfo, PipelineInfo
from pipec.compiler.portability import check_portable
from pipec.compiler.requirements import Environment
from pipec.compiler.source import SourceModule, parse_source
from pipec.compiler.trace import trace_controller
from pipec.manifest import Manifest

__all__ = ["BuildResult", "LocalModule", "ProjectFiles", "build", "pipeline_slug"]


@dataclass(frozen=True)
class BuildResult:
    name: str  # folder name of the build: the pipeline's name, made safe for a path
    files: Mapping[str, bytes]
    manifest: Manifest
    diagnostics: tuple[Diagnostic, ...]


_PIPELINE_INERT = {
    "pool_frequency",
    "add_pipeline_tags",
    "target_project",
    "pipeline_execution_queue",
    "multi_instance_support",
    "add_run_number",
    "args_map",
    "start_controller_locally",
    "docker",
    "docker_args",
    "docker_bash_setup_script",
    "repo",
    "repo_branch",
    "repo_commit",
    "artifact_serialization_function",
    "artifact_deserialization_function",
    "output_uri",
    "skip_global_imports",
    "working_dir",
    "enable_local_imports",
    "packages",
    "retry_on_failure",
}
_PIPELINE_KNOWN = {
    "name",
    "project",
    "version",
    "return_value",
    "default_queue",
    "abort_on_failure",
}


def pipeline_slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return slug or "pipeline"


def _select_pipeline(
    parsed: ParsedFile, wanted: str | None, reporter: Reporter
) -> Decorated | None:
    source = parsed.source
    pipelines = parsed.pipelines
    if not pipelines:
        if reporter.has_errors:  # e.g. a controller defined as a method: already reported
            return None
        reporter.report(rules.NO_PIPELINE, Location(source.path, 1, 1))
        return None
    if wanted is not None:
        for decorated in pipelines:
            options = read_options(source, decorated, Reporter())
            name = options.get("name")
            if decorated.name == wanted or (name is not None and name.value == wanted):
                return decorated
        reporter.report(
            rules.NO_PIPELINE_NAMED,
            Location(source.path, 1, 1),
            wanted=wanted,
            choices=", ".join(f"`{d.name}`" for d in pipelines),
        )
        return None
    if len(pipelines) > 1:
        reporter.report(
            rules.SEVERAL_PIPELINES,
            source.location(pipelines[1].function),
            count=len(pipelines),
            choices=", ".join(f"`{d.name}`" for d in pipelines),
        )
        return None
    return pipelines[0]


@dataclass(frozen=True)
class _MainCall:
    overrides: Mapping[str, Any]
    queue: str | None


def _read_main_block(
    parsed: ParsedFile, controller: Decorated, parameter_names: list[str], reporter: Reporter
) -> _MainCall:
    source = parsed.source
    overrides: dict[str, Any] = {}
    queue: str | None = None
    if parsed.main_block is None:
        return _MainCall(overrides, queue)
    body = parsed.main_block.body
    statements = (
        body.body
        if isinstance(body, cst.IndentedBlock)
        else [cst.SimpleStatementLine(list(body.body))]  # type: ignore[arg-type]
    )
    called = False
    for statement in statements:
        smalls = statement.body if isinstance(statement, cst.SimpleStatementLine) else []
        for small in smalls:
            call = (
                small.value
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
                else None
            )
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                call = small.value
            if call is None:
                if not isinstance(small, cst.Pass):
                    _ignored_in_main(source, small, reporter)
                continue
            names = source.qualified_names(call.func)
            if any(n.endswith("PipelineDecorator.set_default_execution_queue") for n in names):
                if call.args:
                    value = read_literal(source.code(call.args[0].value))
                    if isinstance(value, str):
                        queue = value
                continue
            if any(
                n.endswith(("PipelineDecorator.run_locally", "PipelineDecorator.debug_pipeline"))
                for n in names
            ):
                continue
            if not (isinstance(call.func, cst.Name) and call.func.value == controller.name):
                # `print(pipeline(...))`, `result = pipeline(...)`: find the call inside.
                inner = [
                    c
                    for c in _calls_in(small)
                    if isinstance(c.func, cst.Name) and c.func.value == controller.name
                ]
                call = inner[0] if inner else call
            if isinstance(call.func, cst.Name) and call.func.value == controller.name:
                if called:
                    reporter.report(rules.PIPELINE_CALLED_TWICE, source.location(call))
                    continue
                called = True
                overrides = _bind_main_call(source, call, parameter_names, reporter)
                continue
            _ignored_in_main(source, small, reporter)
        if not isinstance(statement, cst.SimpleStatementLine):
            _ignored_in_main(source, statement, reporter)
    return _MainCall(overrides, queue)


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(Finder())
    return found


def _ignored_in_main(source: SourceModule, node: cst.CSTNode, reporter: Reporter) -> None:
    reporter.report_once("main-ignored", rules.IGNORED_UNDER_MAIN, source.location(node))


def _bind_main_call(
    source: SourceModule, call: cst.Call, names: list[str], reporter: Reporter
) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            reporter.report(rules.STAR_ARGS_IN_PIPELINE_CALL, source.location(arg))
            continue
        if arg.keyword is None:
            if position >= len(names):
                reporter.report(
                    rules.PIPELINE_CALL_TOO_MANY_ARGUMENTS,
                    source.location(arg),
                    names=", ".join(names),
                )
                continue
            name = names[position]
            position += 1
        else:
            name = arg.keyword.value
            if name not in names:
                reporter.report(
                    rules.PIPELINE_CALL_UNKNOWN_PARAMETER,
                    source.location(arg),
                    name=name,
                    names=", ".join(names) or "none",
                )
                continue
        value = read_literal(source.code(arg.value))
        if value is NOT_LITERAL:
            reporter.report(
                rules.PIPELINE_CALL_VALUE_NOT_LITERAL, source.location(arg.value), name=name
            )
            continue
        overrides[name] = value
    return overrides


def _pipeline_info(parsed: ParsedFile, controller: Decorated, reporter: Reporter) -> PipelineInfo:
    source = parsed.source
    options = read_options(source, controller, reporter)
    for key, option in options.items():
        if key in _PIPELINE_INERT:
            reporter.report_once(
                f"pipeline:{key}", rules.INERT_PIPELINE_OPTION, option.location, key=key
            )
        elif key not in _PIPELINE_KNOWN:
            reporter.report(rules.UNKNOWN_PIPELINE_OPTION, option.location, key=key)

    def text(key: str) -> str | None:
        option = options.get(key)
        if option is None:
            return None
        if not option.is_literal or not isinstance(option.value, (str, int, float)):
            reporter.report(rules.PIPELINE_OPTION_NOT_TEXT, option.location, key=key)
            return None
        return str(option.value)

    abort = options.get("abort_on_failure")
    abort_on_failure = False
    if abort is not None:
        if abort.is_literal and isinstance(abort.value, bool):
            abort_on_failure = abort.value
        else:
            reporter.report(rules.BAD_ABORT_ON_FAILURE, abort.location)
    signature = read_signature(source, controller.function, reporter, "pipeline controller")
    names = [p.name for p in signature]
    main = _read_main_block(parsed, controller, names, reporter)
    default_queue = main.queue if main.queue is not None else text("default_queue")
    parameters: list[ParameterInfo] = []
    for parameter in signature:
        if parameter.name in main.overrides:
            parameters.append(
                ParameterInfo(
                    parameter.name, parameter.annotation, main.overrides[parameter.name], True
                )
            )
            continue
        if parameter.default is None:
            parameters.append(ParameterInfo(parameter.name, parameter.annotation, None, False))
            continue
        param_node = next(
            p
            for p in (*controller.function.params.params, *controller.function.params.kwonly_params)
            if p.name.value == parameter.name
        )
        value = (
            literal_of(source, param_node.default)
            if param_node.default is not None
            else NOT_LITERAL
        )
        if value is NOT_LITERAL:
            parameters.append(ParameterInfo(parameter.name, parameter.annotation, None, False))
            reporter.report(
                rules.PARAMETER_DEFAULT_NOT_LITERAL,
                source.location(param_node.default or param_node),
                name=parameter.name,
            )
            continue
        parameters.append(ParameterInfo(parameter.name, parameter.annotation, value, True))
    location = source.location(controller.function)
    return PipelineInfo(
        name=text("name") or controller.name,
        project=text("project"),
        version=text("version"),
        function=controller.name,
        abort_on_failure=abort_on_failure,
        default_queue=default_queue,
        options=options,
        line=location.line,
        column=location.column,
        parameters=tuple(parameters),
    )


def build(
    text: str,
    path: str,
    *,
    environment: Environment,
    project: ProjectFiles,
    pipeline: str | None = None,
    regenerate: str | None = None,
) -> BuildResult:
    """Compile one pipeline file. Raises UserError with every diagnostic when the file is wrong."""
    return call_on_deep_stack(
        lambda: _build(text, path, environment, project, pipeline, regenerate), path
    )


def _build(
    text: str,
    path: str,
    environment: Environment,
    project: ProjectFiles,
    pipeline: str | None,
    regenerate: str | None,
) -> BuildResult:
    source = parse_source(text, path)
    reporter = Reporter()
    parsed = find_decorated(source, reporter)
    controller = _select_pipeline(parsed, pipeline, reporter)
    components = analyse_components(parsed, reporter)
    if controller is None:
        raise UserError(reporter.diagnostics)
    info = _pipeline_info(parsed, controller, reporter)
    trace = trace_controller(
        parsed, components, controller, tuple(p.name for p in info.parameters), reporter
    )
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
    )
    if reporter.has_errors:
        raise UserError(reporter.diagnostics)
    files, manifest = emit_build(lowered, regenerate=regenerate or f"pipec build {path}")
    return BuildResult(pipeline_slug(info.name), files, manifest, reporter.diagnostics)
