"""Pass 2 (with `analyse`): the pipeline as a whole: which controller, its options, parameters and defaults.

Reads the `@PipelineDecorator.pipeline(...)` decorator, the controller's signature and the
`if __name__ == "__main__":` block (whose literal arguments become the parameters' defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.analyse import (
    OptionValue,
    decorator_name,
    read_options,
    read_signature,
    report_inert,
    report_source_kept,
    report_unknown_option,
)
from pipec.compiler.constants import constant_of
from pipec.compiler.default_causes import why_default_unknown
from pipec.compiler.diagnostics import Location, Reporter
from pipec.compiler.file_defaults import BuildPlace, fold_file_default, holds_path
from pipec.compiler.literals import NOT_LITERAL, read_literal
from pipec.compiler.module_statements import main_setup_lines
from pipec.compiler.no_pipeline import report_no_pipeline
from pipec.compiler.parse import Decorated, ParsedFile
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import within

__all__ = ["ParameterInfo", "PipelineInfo", "analyse_pipeline", "select_pipeline"]


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    annotation: str | None
    default: Any  # only meaningful when has_default
    has_default: bool


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    project: str | None
    version: str | None
    function: str
    abort_on_failure: bool
    default_queue: str | None
    options: Mapping[str, OptionValue]
    line: int
    column: int
    parameters: tuple[ParameterInfo, ...]
    file_in_defaults: bool = False  # a default was folded with `__file__` known (file_defaults)


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


def select_pipeline(parsed: ParsedFile, wanted: str | None, reporter: Reporter) -> Decorated | None:
    source = parsed.source
    pipelines = parsed.pipelines
    if not pipelines:
        if reporter.has_errors:  # e.g. a controller defined as a method: already reported
            return None
        report_no_pipeline(parsed, reporter)
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
        called = _called_under_main(parsed, {d.name for d in pipelines})
        if len(called) == 1:  # the one `python file.py` would run
            return next(d for d in pipelines if d.name == called[0])
        reporter.report(
            rules.SEVERAL_PIPELINES,
            source.location(pipelines[1].function),
            count=len(pipelines),
            choices=", ".join(f"`{d.name}`" for d in pipelines),
        )
        return None
    return pipelines[0]


def _called_under_main(parsed: ParsedFile, names: set[str]) -> list[str]:
    """The distinct pipelines, among `names`, that the `__main__` block calls."""
    if parsed.main_block is None:
        return []
    called = [
        c.func.value
        for c in _calls_in(parsed.main_block)
        if isinstance(c.func, cst.Name) and c.func.value in names
    ]
    return list(dict.fromkeys(called))


@dataclass(frozen=True)
class _MainCall:
    overrides: Mapping[str, Any]
    queue: str | None
    reads_file: bool = False  # an argument was folded with `__file__` known


def _read_main_block(
    parsed: ParsedFile,
    controller: Decorated,
    parameter_names: list[str],
    reporter: Reporter,
    place: BuildPlace | None = None,
) -> _MainCall:
    source = parsed.source
    overrides: dict[str, Any] = {}
    queue: str | None = None
    reads_file = False
    if parsed.main_block is None:
        return _MainCall(overrides, queue)
    body = parsed.main_block.body
    statements = (
        body.body
        if isinstance(body, cst.IndentedBlock)
        else [cst.SimpleStatementLine(list(body.body))]  # type: ignore[arg-type]
    )
    called = False
    known: dict[str, Any] = {}  # names the block binds to constants, as the call would see them
    pipeline_names = {d.name for d in (*parsed.components, *parsed.pipelines)}
    # Setup lines before the call run in every script (see module_statements.main_setup_lines).
    carried = main_setup_lines(source, parsed.main_block, pipeline_names)
    for statement in statements:
        if any(statement is line for line in carried):
            continue
        smalls = statement.body if isinstance(statement, cst.SimpleStatementLine) else []
        if not smalls:
            for name in _assigned_in(source, statement):
                known.pop(name, None)
        for small in smalls:
            for name in _assigned_in(source, small):
                known.pop(name, None)
            constant = _constant_assignment(source, small, known)
            if constant is not None:
                known[constant[0]] = constant[1]
                continue
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
                overrides, reads_file = _bind_main_call(
                    source, call, parameter_names, known, reporter, place
                )
                continue
            _ignored_in_main(source, small, reporter)
        if not isinstance(statement, cst.SimpleStatementLine):
            _ignored_in_main(source, statement, reporter)
    return _MainCall(overrides, queue, reads_file)


def _constant_assignment(
    source: SourceModule, small: cst.BaseSmallStatement, known: dict[str, Any]
) -> tuple[str, Any] | None:
    """`url = "https://..."` under `__main__`: a value the pipeline call may pass on."""
    target: cst.BaseExpression | None = None
    value: cst.BaseExpression | None = None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
    elif isinstance(small, cst.AnnAssign):
        target, value = small.target, small.value
    if not isinstance(target, cst.Name) or value is None:
        return None
    folded = constant_of(source, value, known)
    return None if folded is NOT_LITERAL else (target.value, folded)


def _assigned_in(source: SourceModule, node: cst.CSTNode) -> set[str]:
    """Module-level names that `node` (a statement under `__main__`) binds."""
    where = source.extent(node)
    names: set[str] = set()
    for assignment in source.global_scope.assignments:
        target = getattr(assignment, "node", None)
        if (
            target is not None
            and target in source.positions
            and within(source.positions[target], where)
        ):
            names.add(assignment.name)
    return names


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
    source: SourceModule,
    call: cst.Call,
    names: list[str],
    known: dict[str, Any],
    reporter: Reporter,
    place: BuildPlace | None,
) -> tuple[dict[str, Any], bool]:
    """The arguments of the pipeline call, and whether one was folded with `__file__` known."""
    overrides: dict[str, Any] = {}
    reads_file = False
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
        value = constant_of(source, arg.value, known)
        if value is NOT_LITERAL and place is not None:
            folded = fold_file_default(source, arg.value, place)
            if folded.value is not NOT_LITERAL and not holds_path(folded.value):
                value = folded.value
                reads_file |= folded.reads_file
        if value is NOT_LITERAL:
            reporter.report(
                rules.PIPELINE_CALL_VALUE_NOT_LITERAL, source.location(arg.value), name=name
            )
            continue
        overrides[name] = value
    return overrides, reads_file


def _refuse_other_decorators(
    source: SourceModule, controller: Decorated, reporter: Reporter
) -> None:
    """Python would run a decorator above or below the pipeline's; pipec has no call to wrap."""
    for decorator in controller.function.decorators:
        if decorator is controller.decorator:
            continue
        reporter.report(
            rules.DECORATOR_ON_PIPELINE,
            source.location(decorator),
            decorator=decorator_name(source, decorator),
            function=controller.name,
        )


def analyse_pipeline(
    parsed: ParsedFile,
    controller: Decorated,
    reporter: Reporter,
    place: BuildPlace | None = None,
) -> PipelineInfo:
    """`place`: where the file is built, to fold defaults built from `__file__` (none without)."""
    source = parsed.source
    _refuse_other_decorators(source, controller, reporter)
    options = read_options(source, controller, reporter)
    for key, option in options.items():
        if key in _PIPELINE_INERT:
            report_inert(key, rules.INERT_PIPELINE_OPTION, option, reporter)
        elif key not in _PIPELINE_KNOWN:
            report_unknown_option(
                "pipeline",
                key,
                option.location,
                _PIPELINE_KNOWN | _PIPELINE_INERT,
                reporter,
                rules.UNKNOWN_PIPELINE_OPTION,
            )

    def text(key: str) -> str | None:
        option = options.get(key)
        if option is None:
            return None
        if not option.is_literal:
            # Built at import time (a date, an environment variable): it only names the run.
            report_source_kept(key, option, reporter)
            return None
        if not isinstance(option.value, (str, int, float)):
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
    main = _read_main_block(parsed, controller, names, reporter, place)
    default_queue = main.queue if main.queue is not None else text("default_queue")
    parameters: list[ParameterInfo] = []
    file_in_defaults = main.reads_file
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
        declared = controller.function.params
        param_node = next(
            p
            for p in (*declared.posonly_params, *declared.params, *declared.kwonly_params)
            if p.name.value == parameter.name
        )
        value = (
            constant_of(source, param_node.default)
            if param_node.default is not None
            else NOT_LITERAL
        )
        if value is NOT_LITERAL and param_node.default is not None and place is not None:
            folded = fold_file_default(source, param_node.default, place)
            file_in_defaults |= folded.reads_file and folded.value is not NOT_LITERAL
            if holds_path(folded.value):
                parameters.append(ParameterInfo(parameter.name, parameter.annotation, None, False))
                reporter.report(
                    rules.PARAMETER_DEFAULT_IS_PATH,
                    source.location(param_node.default),
                    name=parameter.name,
                    kind="pathlib.Path",
                    code=source.code(param_node.default),
                )
                continue
            value = folded.value
        if value is NOT_LITERAL:
            parameters.append(ParameterInfo(parameter.name, parameter.annotation, None, False))
            reporter.report(
                rules.PARAMETER_DEFAULT_NOT_LITERAL,
                source.location(param_node.default or param_node),
                name=parameter.name,
                why=""
                if param_node.default is None
                else why_default_unknown(source, param_node.default),
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
        file_in_defaults=file_in_defaults,
    )
