"""Pass 2: what each component is (options, signature, code) and which module code it carries along."""

from __future__ import annotations

import difflib
import enum
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.call_effects import (
    functions_changing_module_values,
    functions_that_only_read,
    names_calls_may_change,
)
from pipec.compiler.constants import bindings_before_pipeline, constant_of
from pipec.compiler.diagnostics import Location, Reporter, Rule
from pipec.compiler.lasting_effects import report_lasting_effects, report_prints_to_files
from pipec.compiler.late_bindings import (
    LateBinding,
    names_bound_after_main,
    report_late_reads,
)
from pipec.compiler.literals import NOT_LITERAL, read_literal
from pipec.compiler.main_names import main_assignment
from pipec.compiler.module_statements import (
    compound_effects,
    draws_on,
    import_names,
    is_setup_line,
    keyword_of,
    main_setup_lines,
    printing_within,
    registers_itself,
    state_touched,
    without_prints,
)
from pipec.compiler.parse import Decorated, DecoratorKind, ParsedFile, decorator_kind
from pipec.compiler.source import SourceModule
from pipec.compiler.star_imports import StarImports
from pipec.compiler.step_names import check_step_names
from pipec.compiler.syntax import import_bound_name, quoted_code
from pipec.compiler.task_types import fold_task_type
from pipec.compiler.trusted_stars import TrustedReads
from pipec.literals import encode_literal

__all__ = [
    "Component",
    "OptionValue",
    "decorator_name",
    "Parameter",
    "ParameterKind",
    "Support",
    "analyse_components",
    "collect_support",
    "literal_of",
    "read_options",
    "read_signature",
    "report_unknown_option",
    "report_inert",
    "report_source_kept",
]

DEFAULT_RETURN_VALUES = ("return_object",)

# Options pipec acts on, options it records as metadata, and ClearML-server features that do
# nothing on a pipec host (warned about once per build).
_COMPONENT_ACTED = {
    "return_values",
    "name",
    "cache",
    "packages",
    "parents",
    "helper_functions",
    "retry_on_failure",
    "execution_queue",
}
_COMPONENT_METADATA = {"task_type", "tags"}
# Options that only describe a step: when one cannot be folded, its source text is kept.
_COMPONENT_DESCRIPTIVE = {"name", "execution_queue"}
_COMPONENT_INERT = {
    "continue_on_fail",
    "docker",
    "docker_args",
    "docker_bash_setup_script",
    "auto_connect_frameworks",
    "auto_connect_arg_parser",
    "repo",
    "repo_branch",
    "repo_commit",
    "monitor_metrics",
    "monitor_artifacts",
    "monitor_models",
    "pre_execute_callback",
    "post_execute_callback",
    "status_change_callback",
    "output_uri",
    "draft",
    "working_dir",
    "continue_behaviour",
}


@dataclass(frozen=True)
class OptionValue:
    """A decorator option: its literal value when it has one, and its source text."""

    source: str
    location: Location
    value: Any = NOT_LITERAL

    @property
    def is_literal(self) -> bool:
        return self.value is not NOT_LITERAL

    def to_manifest(self) -> Any:
        if self.is_literal:
            encoded = encode_literal(self.value)
            return encoded.get("value", encoded)
        return {"source": self.source}


class ParameterKind(enum.Enum):
    POSITIONAL_OR_KEYWORD = "positional_or_keyword"
    KEYWORD_ONLY = "keyword_only"


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: ParameterKind
    default: str | None  # source text of the default, evaluated by the script itself
    annotation: str | None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Support:
    """Module code a script needs beside its function: pruned imports, definitions, imported modules."""

    imports: tuple[str, ...]
    definitions: tuple[str, ...]
    modules: tuple[str, ...]  # every absolute module imported by the carried code and the function
    components: tuple[str, ...] = ()  # components whose functions the carried code reaches
    statements: tuple[int, ...] = ()  # indices in the module body of the carried statements
    # Modules imported as alternatives (`try: import a` / `except ImportError: import b`), in order.
    alternatives: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Component:
    function_name: str
    step_name: str
    parameters: tuple[Parameter, ...]
    return_values: tuple[str, ...]
    options: Mapping[str, OptionValue]
    cache: bool
    retry_on_failure: int
    queue: str | None
    parents: tuple[str, ...]
    packages: tuple[str, ...] | None
    packages_file: str | None
    location: Location
    code: str
    support: Support
    repository_requirements: bool = False  # packages=False: the repository's requirements.txt

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


def literal_of(source: SourceModule, expr: cst.BaseExpression) -> Any:
    """A literal written in place, or a module-level constant assigned once from a literal."""
    value = read_literal(source.code(expr))
    if value is not NOT_LITERAL or not isinstance(expr, cst.Name):
        return value
    indices = bindings_before_pipeline(source, expr.value)
    if len(indices) != 1:
        return NOT_LITERAL
    statement = source.module.body[indices[0]]
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if (
            isinstance(small, (cst.Assign, cst.AnnAssign))
            and small.value is not None
            and _assigns_only(small, expr.value)
        ):
            return read_literal(source.code(small.value))
    return NOT_LITERAL


def _assigns_only(small: cst.Assign | cst.AnnAssign, name: str) -> bool:
    if isinstance(small, cst.AnnAssign):
        return isinstance(small.target, cst.Name) and small.target.value == name
    target = small.targets[0].target if len(small.targets) == 1 else None
    return isinstance(target, cst.Name) and target.value == name


def read_options(
    source: SourceModule, decorated: Decorated, reporter: Reporter
) -> dict[str, OptionValue]:
    options: dict[str, OptionValue] = {}
    if decorated.call is None:
        return options
    for arg in decorated.call.args:
        if arg.keyword is None:
            reporter.report(
                rules.POSITIONAL_DECORATOR_ARGUMENT,
                source.location(arg),
                decorator=decorated.kind.value,
            )
            continue
        key = arg.keyword.value
        value = constant_of(source, arg.value)
        if key == "task_type" and value is NOT_LITERAL:
            value = fold_task_type(source, arg.value, reporter)
        options[key] = OptionValue(
            source=source.code(arg.value),
            location=source.location(arg.value),
            value=value,
        )
    return options


def report_source_kept(key: str, option: OptionValue, reporter: Reporter) -> None:
    """One warning per option kind that cannot be folded, not one per step or decorator."""
    reporter.report_grouped(
        f"source:{key}",
        rules.OPTION_SOURCE_KEPT,
        option.location,
        key=key,
        source=quoted_code(option.source),
    )


def report_inert(key: str, rule: Rule, option: OptionValue, reporter: Reporter) -> None:
    """One warning per option that needs a ClearML server, wherever it is set: the components'
    rule when any step sets it (they are read first), the pipeline's when only the pipeline does."""
    reporter.report_grouped(f"inert:{key}", rule, option.location, key=key)


# What ClearML's other pipeline API (PipelineController and its add_function_step) calls an
# option the decorators name differently: people move code between the two. ClearML's decorators
# take no `**kwargs`, so each of these raises TypeError there.
_OTHER_API_NAMES = {
    ("pipeline", "queue"): "default_queue",
    ("pipeline", "execution_queue"): "default_queue",
    ("component", "queue"): "execution_queue",
    ("component", "function_return"): "return_values",
    ("component", "cache_executed_step"): "cache",
    ("component", "requirements"): "packages",
}


def report_unknown_option(
    decorator: str,
    key: str,
    location: Location,
    known: Iterable[str],
    reporter: Reporter,
    unknown: Rule,
) -> None:
    """An option ClearML does not have: an error when it is a near miss of one it has, or the
    name PipelineController.add_function_step gives the same option."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    if not close and (decorator, key) in _OTHER_API_NAMES:
        close = [_OTHER_API_NAMES[decorator, key]]
    if close:
        reporter.report(
            rules.MISSPELLED_OPTION, location, decorator=decorator, key=key, suggestion=close[0]
        )
    else:
        reporter.report(unknown, location, key=key)


def _need_literal(
    options: Mapping[str, OptionValue], key: str, reporter: Reporter, hint: str
) -> Any:
    option = options.get(key)
    if option is None:
        return NOT_LITERAL
    if not option.is_literal:
        reporter.report(rules.OPTION_NOT_LITERAL, option.location, key=key, hint=hint)
        return NOT_LITERAL
    return option.value


def read_signature(
    source: SourceModule, function: cst.FunctionDef, reporter: Reporter, what: str
) -> tuple[Parameter, ...]:
    """The parameters pipec passes by name.

    A controller is only ever called by pipec, so `/` and `*args`/`**kwargs` its body never
    reads change nothing there; a step's script is called with keyword arguments, so it may
    have neither.
    """
    params = function.params
    name = function.name.value
    controller = what == "pipeline controller"
    for bad, label in (
        (params.star_arg, "*args"),
        (params.star_kwarg, "**kwargs"),
    ):
        if isinstance(bad, cst.Param):
            if controller and not _reads(source, function, bad.name.value):
                continue
            reporter.report(
                rules.STAR_PARAMETERS, source.location(bad), what=what, function=name, label=label
            )
    if params.posonly_params and not controller:
        reporter.report(
            rules.POSITIONAL_ONLY_PARAMETERS,
            source.location(params.posonly_params[0]),
            what=what,
            function=name,
        )

    def convert(param: cst.Param, kind: ParameterKind) -> Parameter:
        default = source.code(param.default).strip() if param.default is not None else None
        annotation = (
            source.code(param.annotation.annotation).strip()
            if param.annotation is not None
            else None
        )
        return Parameter(param.name.value, kind, default, annotation)

    positional = [*params.posonly_params, *params.params] if controller else list(params.params)
    return tuple(
        [convert(p, ParameterKind.POSITIONAL_OR_KEYWORD) for p in positional]
        + [convert(p, ParameterKind.KEYWORD_ONLY) for p in params.kwonly_params]
    )


def _reads(source: SourceModule, function: cst.FunctionDef, name: str) -> bool:
    body = source.scopes.get(function.body)
    return any(
        use.name == name and use.scope is body
        for use in source.uses_within(source.extent(function.body))
    )


class _ReturnFinder(cst.CSTVisitor):
    """The `return` statements of one function, not of functions nested in it."""

    def __init__(self) -> None:
        self.returns: list[cst.Return] = []
        self._depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        if self._depth == 1:
            self.returns.append(node)


def _check_return_count(
    source: SourceModule, function: cst.FunctionDef, names: tuple[str, ...], reporter: Reporter
) -> None:
    if len(names) < 2:
        return
    finder = _ReturnFinder()
    function.visit(finder)
    for ret in finder.returns:
        value = ret.value
        if isinstance(value, (cst.Tuple, cst.List)) and not any(
            isinstance(e, cst.StarredElement) for e in value.elements
        ):
            if len(value.elements) != len(names):
                reporter.report(
                    rules.RETURN_COUNT_MISMATCH,
                    source.location(ret),
                    function=function.name.value,
                    count=len(value.elements),
                    declared=len(names),
                    names=", ".join(names),
                )
        elif value is None:
            reporter.report(
                rules.RETURNS_NOTHING,
                source.location(ret),
                function=function.name.value,
                declared=len(names),
            )


def _strip_component_decorators(source: SourceModule, function: cst.FunctionDef) -> cst.FunctionDef:
    kept = [d for d in function.decorators if decorator_kind(source, d) is None]
    if len(kept) == len(function.decorators):
        return function
    # The removed decorator may have held the comments above the function; keep the function's own.
    return function.with_changes(decorators=kept)


def _component_decorator_ranges(source: SourceModule, statement: cst.CSTNode) -> list[CodeRange]:
    if not isinstance(statement, cst.FunctionDef):
        return []
    return [
        source.positions[d] for d in statement.decorators if decorator_kind(source, d) is not None
    ]


class _ImportCollector(cst.CSTVisitor):
    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.relative: list[cst.ImportFrom] = []
        self.alternatives: list[tuple[str, ...]] = []
        self._order: list[str] = []  # modules in the order the code imports them

    def visit_Try(self, node: cst.Try) -> bool:
        # `try: import a` / `except ImportError: import b as a` imports alternatives: neither is
        # a requirement of its own, so no requirement check demands one the other replaces;
        # requirements.txt names the one to prefer (see requirements.resolve_alternatives).
        if not any(_catches_import_error(handler) for handler in node.handlers):
            return True
        tried: list[str] = []
        for block in (node.body, *(h for h in node.handlers if _catches_import_error(h))):
            inner = _ImportCollector()
            block.visit(inner)
            self.relative.extend(inner.relative)
            for module in inner._order:
                if module not in tried:
                    tried.append(module)
        if tried:
            self.alternatives.append(tuple(tried))
        for handler in node.handlers:
            if not _catches_import_error(handler):
                handler.visit(self)
        for rest in (node.orelse, node.finalbody):
            if rest is not None:
                rest.visit(self)
        return False

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            self.modules.add(_dotted(alias.name))
            self._order.append(_dotted(alias.name))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative:
            self.relative.append(node)
        elif node.module is not None:
            base = _dotted(node.module)
            self.modules.add(base)
            self._order.append(base)
            if not isinstance(node.names, cst.ImportStar):
                # `from google.cloud import storage` may name a submodule: keep the full path too.
                for alias in node.names:
                    self.modules.add(f"{base}.{_dotted(alias.name)}")


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    caught = handler.type
    if isinstance(caught, cst.Tuple):
        names = [element.value for element in caught.elements]
    else:
        names = [caught] if caught is not None else []
    return any(
        isinstance(name, cst.Name) and name.value in {"ImportError", "ModuleNotFoundError"}
        for name in names
    )


def _dotted(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr.value}"
    raise TypeError(f"not a dotted name: {type(expr).__name__}")


def _prune_import(statement: cst.SimpleStatementLine, wanted: set[str]) -> cst.SimpleStatementLine:
    """Keep only the aliases whose bound names the script uses (unused imports fail ruff)."""
    small = statement.body[0]
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(
        small.names, cst.ImportStar
    ):
        return statement
    names = [a for a in small.names if import_bound_name(a) in wanted]
    if not names or len(names) == len(small.names):
        return statement
    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    pruned: cst.Import | cst.ImportFrom
    if isinstance(small, cst.ImportFrom):
        pruned = (
            small.with_changes(names=names, lpar=None, rpar=None)
            if len(names) == 1
            else small.with_changes(names=names)
        )
    else:
        pruned = small.with_changes(names=names)
    return statement.with_changes(body=[pruned])


def _binds_from_inside(statement: cst.CSTNode, name: str) -> bool:
    """A function or class that binds the module name NAME only through `global NAME` inside."""
    return isinstance(statement, cst.FunctionDef | cst.ClassDef) and statement.name.value != name


def _runs_before_steps(
    source: SourceModule, statement: cst.CSTNode, pipeline_names: set[str], reporter: Reporter
) -> bool:
    """A setup line, or a compound statement that sets up the process and describes no pipeline."""
    if is_setup_line(source, statement, pipeline_names):
        return True
    effects = compound_effects(source, statement, pipeline_names)
    if effects is None or not effects.sets_up:
        return False
    if effects.pipeline_calls:
        call = effects.pipeline_calls[0]
        where = source.location(statement)
        reporter.report_once(
            f"module-statement-not-carried:{where.line}",
            rules.MODULE_STATEMENT_NOT_CARRIED,
            where,
            keyword=keyword_of(statement),
            line=where.line,
            call=source.code(call.func),
        )
        return False
    return True


def _report_code_after_main(
    source: SourceModule,
    main_index: int,
    statement: cst.CSTNode,
    pipeline_names: set[str],
    reporter: Reporter,
) -> None:
    """Setup after the `__main__` block ran after the pipeline in Python: say no script runs it."""
    if _is_future_or_star_import(statement):
        return
    effects = compound_effects(source, statement, pipeline_names)
    if not is_setup_line(source, statement, pipeline_names) and (
        effects is None or not effects.sets_up
    ):
        return
    # Point at where that code starts (`task = Task.init(...)`), not at its first setup line.
    first = next(
        s
        for s in source.module.body[main_index + 1 :]
        if not isinstance(s, cst.FunctionDef | cst.ClassDef) and not _is_import_line(s)
    )
    where = source.location(first)
    reporter.report_once(
        "code-after-main", rules.CODE_AFTER_MAIN_NOT_CARRIED, where, line=where.line
    )


def _check_carried_compounds(
    source: SourceModule,
    chosen: Mapping[int, set[str]],
    pipeline_names: set[str],
    reporter: Reporter,
) -> None:
    """A carried compound statement's `print`s belong to no step: each script drops them."""
    for index in sorted(chosen):
        statement = source.module.body[index]
        printing = printing_within(source, statement)
        if printing is not None:
            where = source.location(statement)
            reporter.report_once(
                f"print-inside-module-statement:{where.line}",
                rules.PRINT_INSIDE_MODULE_STATEMENT,
                source.location(printing),
                line=where.line,
            )
        effects = compound_effects(source, statement, pipeline_names)
        if effects is None or not effects.prints:
            continue
        where = source.location(statement)
        reporter.report_once(
            f"module-statement-print-dropped:{where.line}",
            rules.MODULE_STATEMENT_PRINT_DROPPED,
            source.location(effects.prints[0]),
            keyword=keyword_of(statement),
            line=where.line,
        )


def _is_future_or_star_import(statement: cst.CSTNode) -> bool:
    if not _is_import_line(statement):
        return False
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    if not isinstance(small, cst.ImportFrom) or small.relative:
        return False
    return isinstance(small.names, cst.ImportStar) or (
        small.module is not None and _dotted(small.module) == "__future__"
    )


def _is_import_line(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], (cst.Import, cst.ImportFrom))
    )


def _statement_code(source: SourceModule, statement: cst.BaseStatement) -> str:
    """Code of a top-level statement with its comments, without the blank lines above it."""
    code = source.code(statement)
    return code.lstrip("\n").rstrip() + "\n"


@functools.lru_cache(maxsize=8)
def _module_changers(module: cst.Module) -> frozenset[str]:
    """The file's functions that may change a module-level value (one analysis per file)."""
    return frozenset(functions_changing_module_values(module))


def _changing_carried(
    source: SourceModule, chosen: Mapping[int, set[str]], carried: set[str], skip: set[int]
) -> list[int]:
    """Statements left out so far whose calls may change an object a carried name holds."""
    reading = _only_reading(source.module)
    found = []
    for index, statement in enumerate(source.module.body):
        if index in chosen or index in skip:
            continue
        if isinstance(statement, cst.FunctionDef | cst.ClassDef) or _is_import_line(statement):
            continue
        changed = {*names_calls_may_change(statement, reading), *_advanced(statement)}
        if changed & carried:
            found.append(index)
    return found


def _advanced(statement: cst.CSTNode) -> set[str]:
    """Names of iterators `next(NAME)` moves on: builtins that read values, but not these."""
    found: set[str] = set()

    class _Next(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Call(self, node: cst.Call) -> None:
            first = node.args[0].value if node.args else None
            calls_next = isinstance(node.func, cst.Name) and node.func.value == "next"
            if calls_next and isinstance(first, cst.Name):
                found.add(first.value)

    statement.visit(_Next())
    return found


@functools.lru_cache(maxsize=8)
def _only_reading(module: cst.Module) -> frozenset[str]:
    """The file's functions that change nothing their arguments reach (one analysis per file)."""
    return functions_that_only_read(module)


def collect_support(
    source: SourceModule,
    parsed: ParsedFile,
    roots: Iterable[str],
    own: Iterable[cst.CSTNode],
    reporter: Reporter,
    user: str,
    readers: Iterable[cst.CSTNode] = (),
) -> Support:
    """The module-level statements that the names in `roots` need, transitively, in source order.

    `own` are the nodes whose code the script holds itself (the step function, glue statements):
    the imports inside them count for the script's requirements. `readers` are the source's own
    nodes for that code when `own` holds rewritten ones: where a late-bound name is read.
    """
    bindings = source.global_bindings()
    skip = {d.index for d in parsed.pipelines}
    if parsed.main_index is not None:
        skip.add(parsed.main_index)
    # Python runs what follows the `__main__` block only once the pipeline has returned.
    after_main = (
        set(range(parsed.main_index + 1, len(source.module.body)))
        if parsed.main_index is not None
        else set()
    )
    chosen: dict[int, set[str]] = {}
    pending = sorted(set(roots))
    seen: set[str] = set()
    main_lines: dict[str, str] = {}  # `__main__` names the script carries -> their line
    # Names Python binds only once the pipeline has run: after the `__main__` block, or in it
    # after the pipeline call (found below, as the block's names are looked up).
    late = {
        name: LateBinding(source.location(source.module.body[bindings[name][0]]), False)
        for name in names_bound_after_main(source, parsed.main_index)
    }
    pipeline_names = {d.name for d in (*parsed.components, *parsed.pipelines)}
    # What the setup statements change, by root name, and the file's functions that change
    # module-level values: a statement that calls into either changes the process too.
    touched = set(_module_changers(source.module))
    components = {d.index for d in parsed.components}
    for index, statement in enumerate(source.module.body):
        # `from __future__` changes how the carried code compiles; a star import binds names the
        # scope analysis cannot see; a setup call (`random.seed(1)`, `load_dotenv()`) ran before
        # any step in plain Python. Every script keeps them, in the file's order.
        if index in skip:
            continue
        if parsed.main_index is not None and index > parsed.main_index:
            _report_code_after_main(source, parsed.main_index, statement, pipeline_names, reporter)
            continue
        if _is_future_or_star_import(statement) or _runs_before_steps(
            source, statement, pipeline_names, reporter
        ):
            chosen.setdefault(index, set())
            touched.update(state_touched(source, statement))
    for index, statement in enumerate(source.module.body):
        if index in skip or index in after_main or index in chosen:
            continue
        if draws_on(source, statement, touched) or (
            index not in components and registers_itself(source, statement, touched)
        ):
            chosen.setdefault(index, set())
    main_setup = (
        main_setup_lines(source, parsed.main_block, pipeline_names)
        if parsed.main_block is not None
        else []
    )
    main_imports = {name for line in main_setup for name in import_names(line)}
    for runs_first in [*(source.module.body[index] for index in sorted(chosen)), *main_setup]:
        for use in source.uses_within(source.extent(runs_first)):
            if use.scope is source.global_scope:
                pending.append(use.name)
    while True:
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            indices = [
                i
                for i in bindings.get(name, [])
                if i not in skip
                and i not in after_main
                and not _binds_from_inside(source.module.body[i], name)
            ]
            in_main = (
                parsed.main_index is not None
                and parsed.main_index in bindings.get(name, [])
                and name not in main_imports  # the carried import line binds it
            )
            if in_main and parsed.main_block is not None:
                # The block runs at module level before it calls the pipeline: its value wins.
                carried = main_assignment(
                    source, parsed.main_block, name, {d.name for d in parsed.pipelines}
                )
                if carried.code is None and carried.after_call:
                    if not indices:
                        late[name] = LateBinding(carried.location, in_main_block=True)
                elif carried.code is None:
                    reporter.report_once(
                        f"assigned-only-under-main:{name}",
                        rules.ASSIGNED_ONLY_UNDER_MAIN,
                        carried.location,
                        user=user,
                        name=name,
                        why=carried.why,
                    )
                else:
                    main_lines[name] = carried.code
            if not indices:
                continue
            for index in indices:
                chosen.setdefault(index, set()).add(name)
                if len(chosen[index]) > 1:
                    continue
                statement = source.module.body[index]
                excluded = _component_decorator_ranges(source, statement)
                for use in source.uses_within(source.extent(statement), excluded):
                    if use.scope is source.global_scope and use.name not in seen:
                        pending.append(use.name)
        # Plain Python ran every module-level statement: one the step does not name may still
        # change a value it does (`FIRST = next(COUNTER)`, `SAMPLE = RNG.random()`).
        changing = _changing_carried(
            source, chosen, {n for n in seen if n in bindings}, skip | after_main | components
        )
        if not changing:
            break
        for index in changing:
            chosen[index] = set()
            for use in source.uses_within(source.extent(source.module.body[index])):
                if use.scope is source.global_scope and use.name not in seen:
                    pending.append(use.name)

    _check_carried_compounds(source, chosen, pipeline_names, reporter)
    reading = [source.extent(node) for node in (*own, *readers) if node in source.positions]
    reading += [source.extent(source.module.body[index]) for index in sorted(chosen)]
    report_late_reads(source, late, reading, reporter)
    report_lasting_effects(
        source, [*(source.module.body[index] for index in sorted(chosen)), *main_setup], reporter
    )
    report_prints_to_files(
        source,
        [s for i, s in enumerate(source.module.body) if i not in skip and i not in after_main],
        reporter,
    )

    imports: list[str] = []
    definitions: list[str] = []
    collector = _ImportCollector()
    for node in own:
        node.visit(collector)
    reached: list[str] = []
    main_at = parsed.main_index if parsed.main_index is not None else len(source.module.body)
    # What the `__main__` block runs before it calls the pipeline: its names' values, then
    # its setup lines, in its order.
    main_code = "".join(main_lines[n] for n in sorted(main_lines))
    main_code += "".join(_statement_code(source, line) for line in main_setup)
    for line in main_setup:
        line.visit(collector)
    for index in sorted(chosen):
        if index > main_at and main_code:
            definitions.append(main_code)
            main_code = ""
        statement = source.module.body[index]
        if isinstance(statement, cst.FunctionDef):
            if _component_decorator_ranges(source, statement):
                reached.append(statement.name.value)
            statement = _strip_component_decorators(source, statement)
        if _is_import_line(statement):
            assert isinstance(statement, cst.SimpleStatementLine)
            pruned = _prune_import(statement, chosen[index])
            pruned.visit(collector)
            imports.append(_statement_code(source, pruned))
        else:
            kept = without_prints(statement)
            kept.visit(collector)
            definitions.append(_statement_code(source, kept))
    if main_code:
        definitions.append(main_code)
    for relative in collector.relative:
        reporter.report(
            rules.RELATIVE_IMPORT,
            source.location(relative)
            if relative in source.positions
            else Location(source.path, 1, 1),
        )
    return Support(
        tuple(imports),
        tuple(definitions),
        tuple(sorted(collector.modules)),
        tuple(reached),
        tuple(sorted(chosen)),
        tuple(sorted(set(collector.alternatives))),
    )


def _component(
    source: SourceModule,
    parsed: ParsedFile,
    decorated: Decorated,
    reporter: Reporter,
    stars: StarImports,
    trusted: TrustedReads,
) -> Component:
    function = decorated.function
    name = function.name.value
    options = read_options(source, decorated, reporter)
    _check_component_options(options, reporter)
    return_values = _return_values(options, reporter)
    cache = _need_literal(options, "cache", reporter, "write cache=True or cache=False")
    retry = _retry(options, reporter)
    queue = options["execution_queue"].value if "execution_queue" in options else NOT_LITERAL
    parents = _parents(options, reporter)
    packages = _need_literal(
        options,
        "packages",
        reporter,
        "write the packages as a list of pip specifiers or a requirements file path",
    )
    package_list, packages_file = _packages(packages, options, reporter)
    helper_roots = _helper_roots(decorated, options, reporter)

    _refuse_decorators_above(source, function, decorated.decorator, reporter)
    parameters = read_signature(source, function, reporter, "component")
    _check_return_count(source, function, return_values, reporter)

    own_range = source.extent(function)
    excluded = [source.positions[decorated.decorator]]
    roots = {
        use.name
        for use in source.uses_within(own_range, excluded)
        if use.scope is source.global_scope and use.name != name
    }
    roots.update(helper_roots)
    stripped = _strip_component_decorators(source, function)
    # The function as written, whose positions are known; its decorators hold no imports.
    support = collect_support(source, parsed, roots, [function], reporter, f"step `{name}`")
    check_step_names(
        source,
        function,
        support.statements,
        stars,
        reporter,
        f"step `{name}`",
        trusted,
        names_bound_after_main(source, parsed.main_index),
    )
    return Component(
        function_name=name,
        step_name=_step_name(name, options),
        parameters=parameters,
        return_values=return_values,
        options=options,
        cache=bool(cache) if cache is not NOT_LITERAL else False,
        retry_on_failure=retry if isinstance(retry, int) else 0,
        queue=queue if isinstance(queue, str) else None,
        parents=tuple(parents) if isinstance(parents, (list, tuple)) else (),
        packages=package_list,
        packages_file=packages_file,
        location=source.location(function),
        code=_statement_code(source, stripped),
        support=support,
        repository_requirements=packages is False,
    )


def _refuse_decorators_above(
    source: SourceModule, function: cst.FunctionDef, component: cst.Decorator, reporter: Reporter
) -> None:
    """In Python a decorator above the component's wraps the controller's calls of the step."""
    for decorator in function.decorators:
        if decorator is component:
            return
        reporter.report(
            rules.DECORATOR_ABOVE_COMPONENT,
            source.location(decorator),
            decorator=decorator_name(source, decorator),
            function=function.name.value,
        )


def decorator_name(source: SourceModule, decorator: cst.Decorator) -> str:
    """The decorator as written, without its arguments (`functools.lru_cache`)."""
    target = decorator.decorator
    return source.code(target.func if isinstance(target, cst.Call) else target).strip()


def _check_component_options(options: Mapping[str, OptionValue], reporter: Reporter) -> None:
    """Warn about options that do nothing here, are unknown, or are kept as source text."""
    for key, option in options.items():
        if key in _COMPONENT_INERT:
            report_inert(key, rules.INERT_COMPONENT_OPTION, option, reporter)
        elif key not in _COMPONENT_ACTED | _COMPONENT_METADATA:
            report_unknown_option(
                "component",
                key,
                option.location,
                _COMPONENT_ACTED | _COMPONENT_METADATA | _COMPONENT_INERT,
                reporter,
                rules.UNKNOWN_COMPONENT_OPTION,
            )
        elif not option.is_literal and (
            key in _COMPONENT_METADATA or key in _COMPONENT_DESCRIPTIVE
        ):
            report_source_kept(key, option, reporter)


def _return_values(options: Mapping[str, OptionValue], reporter: Reporter) -> tuple[str, ...]:
    return_values: tuple[str, ...] = DEFAULT_RETURN_VALUES
    raw = _need_literal(
        options,
        "return_values",
        reporter,
        "write the output names in place: return_values=['a', 'b']",
    )
    if raw is not NOT_LITERAL:
        values = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(values, (list, tuple))
            or not all(isinstance(v, str) and v not in ("", ".", "..") for v in values)
            or len(set(values)) != len(values)
        ):
            reporter.report(rules.BAD_RETURN_VALUES, options["return_values"].location)
        else:
            return_values = tuple(values)
    return return_values


def _step_name(name: str, options: Mapping[str, OptionValue]) -> str:
    """The step's name: its `name=` option made an identifier, else the function's name."""
    step_name = name
    raw = options["name"].value if "name" in options else NOT_LITERAL
    if isinstance(raw, str) and raw:
        step_name = re.sub(r"\W+", "_", raw).strip("_") or name
        if not step_name[0].isalpha() and step_name[0] != "_":
            step_name = f"step_{step_name}"
    return step_name


def _retry(options: Mapping[str, OptionValue], reporter: Reporter) -> Any:
    retry = NOT_LITERAL
    if "retry_on_failure" in options and not options["retry_on_failure"].is_literal:
        reporter.report(rules.RETRY_NOT_LITERAL, options["retry_on_failure"].location)
    elif "retry_on_failure" in options:
        retry = options["retry_on_failure"].value
        if retry is not None and (
            not isinstance(retry, int) or isinstance(retry, bool) or retry < 0
        ):
            reporter.report(rules.BAD_RETRY, options["retry_on_failure"].location)
            retry = 0
    return retry


def _parents(options: Mapping[str, OptionValue], reporter: Reporter) -> Any:
    parents = _need_literal(
        options, "parents", reporter, "write the parent step names as a list of strings"
    )
    if (
        parents is not NOT_LITERAL
        and parents is not None
        and (not isinstance(parents, (list, tuple)) or not all(isinstance(p, str) for p in parents))
    ):
        reporter.report(rules.BAD_PARENTS, options["parents"].location)
        parents = ()
    return parents


def _packages(
    packages: Any, options: Mapping[str, OptionValue], reporter: Reporter
) -> tuple[tuple[str, ...] | None, str | None]:
    """`packages=`: (a list of pip specifiers, or a requirements file's path)."""
    packages_file: str | None = None
    package_list: tuple[str, ...] | None = None
    if isinstance(packages, str):
        packages_file = packages
    elif isinstance(packages, (list, tuple)) and all(isinstance(p, str) for p in packages):
        package_list = tuple(packages)
    elif packages is not NOT_LITERAL and packages not in (None, True, False):
        reporter.report(rules.BAD_PACKAGES, options["packages"].location)
    return package_list, packages_file


def _helper_roots(
    decorated: Decorated, options: Mapping[str, OptionValue], reporter: Reporter
) -> list[str]:
    """The names `helper_functions=` lists: carried into the script like names the step uses."""
    helper_roots: list[str] = []
    helpers = options.get("helper_functions")
    if helpers is not None and decorated.call is not None:
        arg = next(
            a
            for a in decorated.call.args
            if a.keyword is not None and a.keyword.value == "helper_functions"
        )
        if isinstance(arg.value, (cst.List, cst.Tuple)) and all(
            isinstance(e.value, cst.Name) for e in arg.value.elements
        ):
            helper_roots = [
                e.value.value for e in arg.value.elements if isinstance(e.value, cst.Name)
            ]
        elif not (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
            reporter.report(rules.BAD_HELPER_FUNCTIONS, helpers.location)
    return helper_roots


def analyse_components(
    parsed: ParsedFile,
    reporter: Reporter,
    stars: StarImports,
    trusted: TrustedReads | None = None,
) -> dict[str, Component]:
    """Function name -> Component, for every component in the file. The names the steps take
    on trust from installed star imports go to `trusted`, or, without one, are reported here."""
    source = parsed.source
    collected = trusted if trusted is not None else TrustedReads(stars.unread)
    components = {
        d.name: _component(source, parsed, d, reporter, stars, collected)
        for d in parsed.components
        if d.kind is DecoratorKind.COMPONENT
    }
    if trusted is None:
        collected.report(reporter)
    return components
