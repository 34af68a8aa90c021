"""Every error and warning pipec reports about a user's file, as named rules with stable codes.

Codes are grouped by family and never renumbered (tests/test_rules.py holds the list):
PC0xx the file and its decorators, PC1xx component options and analysis, PC15x the pipeline's
options and `__main__` block, PC2xx controller statements, PC3xx step calls, PC4xx loops and
maps, PC5xx branches, PC6xx names. A retired rule's code is not reused.
"""

from __future__ import annotations

from pipec.compiler.diagnostics import Rule, Severity

__all__ = ["ALL_RULES", "rule_by_code"]

_E = Severity.ERROR
_W = Severity.WARNING

_LOOP_INSIDE_STEP = (
    "a compiled controller has a shape known before it runs: loop inside a step, or use "
    "`for` over a list or a step's output"
)
_CHECK_AFTER_LOOP = "check the values in a step, or after the loop"
_PASS_VALUES = "pass values between steps as arguments and return values"
_MOVE_IMPORT = "move the import to the top of the file; glue scripts carry the imports they use"

# ---- PC0xx: the file, its decorators and its pipelines ------------------------------------------

SYNTAX_ERROR = Rule(
    "PC001",
    "syntax-error",
    _E,
    "syntax error: {message}",
    "fix the syntax; `python -m py_compile FILE` shows the same error",
)
LOCAL_MODULE_SYNTAX_ERROR = Rule(
    "PC002",
    "local-module-syntax-error",
    _E,
    "syntax error in local module: {message}",
    "fix the module: every step that imports it would fail",
)
SEVERAL_DECORATORS = Rule(
    "PC003",
    "several-decorators",
    _E,
    "`{function}` carries more than one PipelineDecorator decorator",
    "keep exactly one of @PipelineDecorator.component or @PipelineDecorator.pipeline",
)
ASYNC_FUNCTION = Rule(
    "PC004",
    "async-function",
    _E,
    "`{function}` is an async function",
    "pipeline steps and controllers must be plain `def` functions",
)
NOT_AT_MODULE_LEVEL = Rule(
    "PC005",
    "not-at-module-level",
    _E,
    "{what} `{function}` is not defined at module level",
    "move `{function}` to the top level of the file: pipec compiles "
    "module-level functions only (not methods, closures or functions under `if`)",
)
NO_PIPELINE = Rule(
    "PC006",
    "no-pipeline",
    _E,
    "no pipeline in this file{found}",
    "{fix}",
)
NO_PIPELINE_NAMED = Rule(
    "PC007",
    "no-pipeline-named",
    _E,
    "no pipeline named `{wanted}` in this file",
    "choose one of: {choices}",
)
SEVERAL_PIPELINES = Rule(
    "PC008",
    "several-pipelines",
    _E,
    "this file holds {count} pipelines",
    "choose one with --pipeline NAME: {choices}",
)
POSITIONAL_DECORATOR_ARGUMENT = Rule(
    "PC009",
    "positional-decorator-argument",
    _E,
    "positional argument to @PipelineDecorator.{decorator}",
    "ClearML's decorators take keyword options only, e.g. "
    "`@PipelineDecorator.component(return_values=['data'])`",
)
STAR_PARAMETERS = Rule(
    "PC010",
    "star-parameters",
    _E,
    "{what} `{function}` takes {label}",
    "name every argument explicitly: pipec passes inputs by name",
)
POSITIONAL_ONLY_PARAMETERS = Rule(
    "PC011",
    "positional-only-parameters",
    _E,
    "{what} `{function}` has positional-only parameters",
    "remove the `/` from the signature: pipec passes inputs by name",
)
RELATIVE_IMPORT = Rule(
    "PC012",
    "relative-import",
    _E,
    "relative import in a pipeline file",
    "import the module by its absolute name (`from mylib import f`): modules beside the "
    "pipeline file are copied into the build",
)
ASSIGNED_ONLY_UNDER_MAIN = Rule(
    "PC013",
    "assigned-only-under-main",
    _E,
    '{user} uses `{name}`, which `if __name__ == "__main__":` assigns {why}',
    "assign `{name}` a literal once in that block, before the pipeline call, or move the "
    "assignment to module level",
)
REDEFINED_FUNCTION = Rule(
    "PC014",
    "redefined-function",
    _W,
    "`{function}` is defined {count} times; this last definition is the one used, as in Python",
    "the definitions at line {earlier} are never used: remove or rename them",
)
CLEARML_SERVER_CALL = Rule(
    "PC015",
    "clearml-server-call",
    _W,
    "`{call}(...)` talks to a ClearML server{carried}",
    "the script that runs it needs clearml installed and configured (clearml.conf) where it "
    "runs{move}; `pipec build --strict-clearml` refuses such calls",
)
CLEARML_SERVER_CALL_REFUSED = Rule(
    "PC016",
    "clearml-server-call-refused",
    _E,
    "`{call}(...)` talks to a ClearML server{carried}, and --strict-clearml refuses it",
    "keep ClearML calls out of the pipeline, or build without --strict-clearml",
)
NEWER_PYTHON_SYNTAX = Rule(
    "PC017",
    "newer-python-syntax",
    _E,
    "{construct} needs Python {version} or newer, and the Python running pipec is older",
    "run pipec with Python {version} or newer (the steps will need it too), or write the "
    "older form",
)
DECORATOR_FROM_ELSEWHERE = Rule(
    "PC018",
    "decorator-from-elsewhere",
    _E,
    "`@{decorator}` comes from `{origin}`, not from clearml or pipec",
    "import the decorator class itself (`from clearml import PipelineDecorator`): pipec "
    "recognises it by where it is imported from and does not read wrapper modules",
)
TOO_DEEP = Rule(
    "PC019",
    "nested-too-deeply",
    _E,
    "Python cannot compile this file: the code near line {line} is nested too deeply",
    "split the expression into several statements, naming the parts",
)
MODULE_STATEMENT_PRINT_DROPPED = Rule(
    "PC020",
    "module-statement-print-dropped",
    _W,
    "this `print` in the module-level `{keyword}` at line {line} belongs to no step, like any "
    "module-level print: the scripts run the `{keyword}` without it",
    "print in a step or in the controller to see it in the run's output",
)
MODULE_STATEMENT_NOT_CARRIED = Rule(
    "PC021",
    "module-statement-not-carried",
    _W,
    "the module-level `{keyword}` at line {line} sets up the process but also calls `{call}`, "
    "which describes the pipeline: no step runs it",
    "split it: keep the setup (calls, item assignments) in a statement of its own, which every "
    "script runs, and the pipeline calls in the `__main__` block",
)
DECORATOR_ABOVE_COMPONENT = Rule(
    "PC022",
    "decorator-above-component",
    _E,
    "`@{decorator}` above `@PipelineDecorator.component` wraps each call of step `{function}` "
    "in the controller, which pipec compiles into a node of its own: the decorator would never "
    "run there",
    "put `@{decorator}` below `@PipelineDecorator.component`: it then wraps `{function}` itself "
    "and runs in the step's script",
)
DECORATOR_ON_PIPELINE = Rule(
    "PC023",
    "decorator-on-pipeline",
    _E,
    "`@{decorator}` decorates the pipeline function `{function}`, whose body pipec compiles "
    "into steps and glue: the decorator would never run",
    "call what the decorator does from the controller's body, or remove it",
)
CODE_AFTER_MAIN_NOT_CARRIED = Rule(
    "PC024",
    "code-after-main-not-carried",
    _W,
    'the module-level code from line {line} on comes after the `if __name__ == "__main__":` '
    "block, so in Python it runs only once the pipeline has returned: no step script runs it",
    "move setup the steps need above that block; work meant to follow the pipeline belongs in "
    "the controller or in a last step",
)
PRINT_INSIDE_MODULE_STATEMENT = Rule(
    "PC025",
    "print-inside-module-statement",
    _E,
    "this `print` is inside an expression of the module-level statement at line {line}, which "
    "every script runs: it would print once in each step's process, where Python prints once, "
    "when the file is imported; and leaving it out would change what the statement does",
    "make it a `print(...)` statement of its own, which the scripts leave out like any "
    "module-level print, or print in the controller",
)
SETUP_WITH_LASTING_EFFECT = Rule(
    "PC026",
    "setup-with-lasting-effect",
    _E,
    "`{call}` {does}: the module-level statement at line {line} runs in every script of the "
    "build (each step and the controller's code), where Python runs it once, so a compiled run "
    "would do this once per script",
    "{instead}",
)
MODULE_PRINT_TO_FILE = Rule(
    "PC027",
    "module-print-to-file",
    _E,
    "this module-level `print` writes to `{target}`: Python writes it once, when the file runs, "
    "but module-level prints belong to no step, so no script of the build would write it",
    "write it from the controller's body (its code runs once) or from the first step",
)

BOUND_AFTER_MAIN = Rule(
    "PC028",
    "bound-after-main",
    _W,
    "`{name}` is bound at line {line}, {where}: when the pipeline runs it is not defined yet "
    "(NameError, as in Python)",
    "move the line that binds `{name}` above {move_above}, so that it runs before the pipeline",
)

CLEARML_CALL_LEFT_OUT = Rule(
    "PC029",
    "clearml-call-left-out",
    _W,
    "`{call}(...)` is module-level code that talks to a ClearML server: Python runs it once, when "
    "the file is imported, but it binds nothing a step or the controller reads, so no script of "
    "the build runs it",
    "a step that needs it (credentials, a task) must make the call itself, and needs clearml "
    "installed and configured where it runs; in the controller's body it runs once, in the "
    "controller's code",
)
ENCLOSED_PIPELINE = Rule(
    "PC030",
    "enclosed-pipeline",
    _E,
    "pipeline controller `{function}` is defined inside `{outer}`, {cause}",
    "{fix}; or define `{function}` at module level, with a parameter (and its default) for each "
    'value it reads from `{outer}`, and call it under `if __name__ == "__main__":`',
)
READ_BEFORE_BOUND = Rule(
    "PC031",
    "read-before-bound",
    _E,
    "`{name}` is read while the file is imported, but Python binds it only at line {line}: "
    "running the file stops here with NameError, before any step runs",
    "move the line that binds `{name}` (line {line}) above line {read_line}",
)

RESERVED_NAME = Rule(
    "PC099",
    "reserved-name",
    _E,
    "`{name}` starts with `{prefix}`, which pipec keeps for the code it writes into every script "
    "of the build: the script's own `{prefix}...` definitions would replace this one, and the "
    "step or glue that reads it would get pipec's instead",
    "rename `{name}` (for example to `{suggestion}`)",
)

GENERATOR_CONTROLLER = Rule(
    "PC098",
    "generator-controller",
    _E,
    "pipeline controller `{function}` is a generator function (it uses `yield`): calling it in "
    "Python runs none of its body, only builds a generator",
    "return the pipeline's result with `return` instead of yielding values",
)

# ---- PC1xx: component options, return values and requirements ----------------------------------

OPTION_NOT_LITERAL = Rule(
    "PC101",
    "option-not-literal",
    _E,
    "option `{key}` must be known at compile time: a literal, or an expression over literals "
    "and module-level constants",
    "{hint}",
)
INERT_COMPONENT_OPTION = Rule(
    "PC102",
    "inert-component-option",
    _W,
    "option `{key}` needs a ClearML server and does nothing in pipec{also}",
    "it is kept in the manifest; remove it to silence this warning",
)
OPTION_SOURCE_KEPT = Rule(
    "PC103",
    "option-source-kept",
    _W,
    "option `{key}` is computed when the file is imported; pipec keeps its source text "
    "`{source}` and never runs it{also}",
    "it only describes the run, so the build goes on; write a literal (or an expression over "
    "module-level constants) to have the value recorded",
)
UNKNOWN_COMPONENT_OPTION = Rule(
    "PC104",
    "unknown-component-option",
    _W,
    "unknown component option `{key}`",
    "check the spelling against @PipelineDecorator.component's keyword options",
)
BAD_RETURN_VALUES = Rule(
    "PC105",
    "bad-return-values",
    _E,
    "return_values must be a list of distinct output names (strings other than '', '.', '..')",
    "for example return_values=['X_train', 'y_train'] (any artifact name, or [] for none)",
)
RETRY_NOT_LITERAL = Rule(
    "PC106",
    "retry-not-literal",
    _W,
    "retry_on_failure is not an integer literal; pipec will not retry this step",
    "write retry_on_failure=N for N retries (callable retry policies need ClearML)",
)
BAD_RETRY = Rule(
    "PC107",
    "bad-retry",
    _E,
    "retry_on_failure must be a whole number >= 0",
    "for example retry_on_failure=2",
)
BAD_PARENTS = Rule(
    "PC108",
    "bad-parents",
    _E,
    "parents must be a list of step names",
    "for example parents=['step_one']",
)
BAD_PACKAGES = Rule(
    "PC109",
    "bad-packages",
    _E,
    "packages must be a list of pip specifiers or a path to a requirements file",
    "for example packages=['scikit-learn>=1.3', 'pandas']",
)
BAD_HELPER_FUNCTIONS = Rule(
    "PC110",
    "bad-helper-functions",
    _E,
    "helper_functions must be a list of function names",
    "for example helper_functions=[normalise, load_table]",
)
RETURN_COUNT_MISMATCH = Rule(
    "PC111",
    "return-count-mismatch",
    _E,
    "`{function}` returns {count} values but return_values names {declared}: {names}",
    "return one value per name in return_values, or change return_values",
)
RETURNS_NOTHING = Rule(
    "PC112",
    "returns-nothing",
    _E,
    "`{function}` returns nothing but return_values names {declared} outputs",
    "return a tuple of {declared} values",
)
PACKAGES_FILE_NOT_FOUND = Rule(
    "PC113",
    "packages-file-not-found",
    _E,
    "requirements file `{path}` not found next to the pipeline file",
    "give a path relative to the pipeline file, or list the packages: packages=['name']",
)
UNSUPPORTED_REQUIREMENT_LINE = Rule(
    "PC114",
    "unsupported-requirement-line",
    _W,
    "`{line}` in {path} is not supported",
    "list plain specifiers, one per line",
)
GUESSED_REQUIREMENT = Rule(
    "PC115",
    "guessed-requirement",
    _W,
    "no installed package provides `{distribution}`; guessed the requirement `{distribution}`",
    "install the package where you build, or declare it: packages=['name>=version']",
)
MISSPELLED_OPTION = Rule(
    "PC116",
    "misspelled-option",
    _E,
    "@PipelineDecorator.{decorator} has no option `{key}`; did you mean `{suggestion}`?",
    "write `{suggestion}=`: ClearML rejects unknown options, and pipec would ignore it",
)
REPOSITORY_REQUIREMENTS_NOT_FOUND = Rule(
    "PC117",
    "repository-requirements-not-found",
    _W,
    "packages=False installs the repository's requirements.txt, and there is none next to the "
    "pipeline file or at the project root",
    "pipec detects the step's requirements from its imports instead; add requirements.txt at "
    "the project root (the folder with .git or pyproject.toml), or list the packages",
)
PROJECT_MODULE_NOT_FOUND = Rule(
    "PC118",
    "project-module-not-found",
    _W,
    "`{name}` looks like a module of your project, but it is not next to the pipeline file nor "
    "under the project root; not written as a requirement",
    "put `{name}` beside the pipeline file, in `src/`, or under the project root (the folder "
    "with .git or pyproject.toml) so that pipec copies it into the build",
)
PER_PROCESS_MODULE_VALUE = Rule(
    "PC119",
    "per-process-module-value",
    _W,
    "{user} uses a module-level value computed by `{call}(...)`; each step script computes its own",
    "every step runs in a process of its own, so each sees a different value: compute it in "
    "one step and pass it on as an argument",
)
GENERATOR_STEP = Rule(
    "PC120",
    "generator-step",
    _E,
    "step `{step}` is a generator function: its result cannot be handed to another process",
    "return a list instead of yielding: `return list(...)`",
)

STEP_CHANGES_MODULE_VALUE = Rule(
    "PC148",
    "step-changes-module-value",
    _E,
    "step `{step}` {change}, and {reader}: in Python the change stays for what runs later in the "
    "same process, but each step runs in a process of its own, so it would reach nothing outside "
    "this one call",
    "return the new value from `{step}` and pass it on as an argument; change a module-level "
    "value only when nothing but this one call reads it",
)
GENERATOR_RETURNED = Rule(
    "PC149",
    "generator-returned",
    _E,
    "step `{step}` returns a generator expression: a generator cannot be pickled, so its result "
    "cannot be handed to another process (in Python the caller would iterate it)",
    "return a list instead: `return [... for ...]` or `return list(...)`",
)

UNKNOWN_TASK_TYPE = Rule(
    "PC121",
    "unknown-task-type",
    _E,
    "ClearML's `TaskTypes` has no member `{member}`{suggestion}",
    "Python stops with AttributeError when it imports the file; the members are: {members}",
)
FILE_READ_AT_BUILD_PATH = Rule(
    "PC150",
    "file-read-at-build-path",
    _W,
    "`__file__` is taken as the path where the file sits as it is built; a build run on "
    "another host reads the same path there",
    "to read or write elsewhere, make the path a pipeline parameter "
    "(`def pipeline(data: str = str(DATA))`) and pass it at run time: "
    "pipec run BUILD --param data=PATH",
)

# ---- PC15x: the pipeline's options and the `__main__` block ------------------------------------

INERT_PIPELINE_OPTION = Rule(
    "PC151",
    "inert-pipeline-option",
    _W,
    "pipeline option `{key}` needs a ClearML server and does nothing in pipec{also}",
    "it is kept in the manifest; remove it to silence this warning",
)
UNKNOWN_PIPELINE_OPTION = Rule(
    "PC152",
    "unknown-pipeline-option",
    _W,
    "unknown pipeline option `{key}`",
    "check the spelling against @PipelineDecorator.pipeline's keyword options",
)
PIPELINE_OPTION_NOT_TEXT = Rule(
    "PC153",
    "pipeline-option-not-text",
    _E,
    "pipeline option `{key}` must be a string literal",
    "write {key}='...'",
)
BAD_ABORT_ON_FAILURE = Rule(
    "PC154",
    "bad-abort-on-failure",
    _E,
    "abort_on_failure must be True or False",
    "write abort_on_failure=True",
)
PARAMETER_DEFAULT_NOT_LITERAL = Rule(
    "PC155",
    "parameter-default-not-literal",
    _E,
    "the default of pipeline parameter `{name}` is not known at compile time{why}",
    "write a literal or an expression over module-level constants, or pass the value at run "
    "time with --param {name}=VALUE",
)
PIPELINE_CALLED_TWICE = Rule(
    "PC156",
    "pipeline-called-twice",
    _W,
    "the pipeline is called more than once under __main__",
    "pipec takes the first call's arguments as the defaults",
)
IGNORED_UNDER_MAIN = Rule(
    "PC157",
    "ignored-under-main",
    _W,
    'code under `if __name__ == "__main__":` other than the pipeline call is not part of the build',
    "move work the pipeline needs into a step or into the controller",
)
STAR_ARGS_IN_PIPELINE_CALL = Rule(
    "PC158",
    "star-args-in-pipeline-call",
    _W,
    "star-arguments in the pipeline call are not read",
    "pass the parameters by name",
)
PIPELINE_CALL_TOO_MANY_ARGUMENTS = Rule(
    "PC159",
    "pipeline-call-too-many-arguments",
    _E,
    "the pipeline is called with too many arguments",
    "its parameters are: {names}",
)
PIPELINE_CALL_UNKNOWN_PARAMETER = Rule(
    "PC160",
    "pipeline-call-unknown-parameter",
    _E,
    "the pipeline has no parameter `{name}`",
    "its parameters are: {names}",
)
PIPELINE_CALL_VALUE_NOT_LITERAL = Rule(
    "PC161",
    "pipeline-call-value-not-literal",
    _W,
    "the value passed for `{name}` is not a literal; the manifest keeps the function's default",
    "pass it at run time: pipec run BUILD --param {name}=VALUE",
)

PARAMETER_DEFAULT_IS_PATH = Rule(
    "PC199",
    "parameter-default-is-path",
    _E,
    "the default of pipeline parameter `{name}` would be a `{kind}` object, which the manifest "
    "cannot hold: it keeps plain values (strings, numbers, lists, dicts)",
    "wrap it in `str(...)`: `{name}: str = str({code})`, and make a Path of it where it is used",
)

# ---- PC2xx: statements of the controller --------------------------------------------------------

WHILE_LOOP = Rule("PC201", "while-loop", _E, "`while` loop in a controller", _LOOP_INSIDE_STEP)
TRY_STATEMENT = Rule(
    "PC202",
    "try-statement",
    _E,
    "`try` in a controller",
    "handle errors inside the step; use retry_on_failure=N on the component for flaky steps",
)
WITH_STATEMENT = Rule(
    "PC203",
    "with-statement",
    _E,
    "`with` in a controller",
    "open files and other resources inside the step that uses them",
)
FUNCTION_IN_CONTROLLER = Rule(
    "PC204",
    "function-in-controller",
    _E,
    "function defined inside a controller",
    "define it at module level; steps and glue scripts carry module-level helpers along",
)
CLASS_IN_CONTROLLER = Rule(
    "PC205",
    "class-in-controller",
    _E,
    "class defined inside a controller",
    "define it at module level; steps and glue scripts carry module-level classes along",
)
GLOBAL_STATEMENT = Rule("PC206", "global-statement", _E, "`global` in a controller", _PASS_VALUES)
NONLOCAL_STATEMENT = Rule(
    "PC207", "nonlocal-statement", _E, "`nonlocal` in a controller", _PASS_VALUES
)
IMPORT_IN_CONTROLLER = Rule(
    "PC208", "import-in-controller", _E, "relative import inside a controller", _MOVE_IMPORT
)
DEL_STATEMENT = Rule(
    "PC209",
    "del-statement",
    _E,
    "`del` of names and of items or attributes in one statement",
    "write one `del` for the names and another for the items (`del a` then `del d[k]`)",
)
UNSUPPORTED_STATEMENT = Rule(
    "PC210",
    "unsupported-statement",
    _E,
    "`{kind}` statement in a controller",
    # Reached only by `try/except*` today (`try`, `while`, `with`, `def`, `class` have rules
    # of their own): the hint speaks to errors first.
    "handle errors inside the step (retry_on_failure=N on the component for flaky steps); a "
    "controller keeps to step calls, assignments, `if`, `for`, `match`, `del`, imports, "
    "prints, asserts and `return`",
)
UNREACHABLE_CODE = Rule(
    "PC211",
    "unreachable-code",
    _W,
    "this code never runs: everything before it ends the pipeline",
    "remove it, or move it before the `return`/`raise`",
)
RECURSIVE_CONTROLLER = Rule(
    "PC212",
    "recursive-controller",
    _E,
    "the pipeline controller calls itself",
    "a compiled pipeline has a fixed shape: unroll the recursion into a loop over "
    "known values, or move it into a step",
)
IMPORTED_NAME_PASSED_ON = Rule(
    "PC213",
    "imported-name-passed-on",
    _E,
    "`{name}` is imported inside the controller and cannot be passed on as a value",
    "pass values, not modules: import it in the step that uses it, or call it in glue "
    "(`{name}.something(...)`)",
)
CONDITIONAL_WALRUS = Rule(
    "PC214",
    "conditional-walrus",
    _E,
    "this `:=` runs only when the test gets that far, in a test decided at run time",
    "assign the name in a statement of its own before the `if`",
)
NAMESPACE_READ = Rule(
    "PC297",
    "namespace-read",
    _E,
    "`{call}` lists the names of the namespace it runs in, and a compiled run runs this line in "
    "a function and a script of its own, which hold only the values the line needs",
    'name the values you need instead (`{{"a": a, "b": b}}`, `hasattr(obj, ...)`)',
)
LATE_BOUND_LAMBDA = Rule(
    "PC298",
    "late-bound-lambda",
    _E,
    "this lambda reads `{name}`, which the controller binds again at line {line}: Python's "
    "lambda sees the value `{name}` has when the lambda is called, but a compiled run hands the "
    "lambda on with the value `{name}` had where the lambda was made",
    "keep the value it has here with a default (`lambda ..., {name}={name}: ...`), or make the "
    "lambda after the binding whose value it should see",
)
GENERATOR_HANDED_ON = Rule(
    "PC299",
    "generator-handed-on",
    _E,
    "this generator is handed on to another process{line}: a compiled run pickles every value "
    "that crosses from controller code to a step or to later controller code, and a generator "
    "cannot be pickled (Python hands on the generator itself)",
    "make a list of it here (`list(...)`, or `[... for ...]`), or consume it before the next "
    "step call",
)
RECURSIVE_HELPER = Rule(
    "PC215",
    "recursive-helper",
    _E,
    "helper `{helper}` calls steps and calls itself",
    "a compiled pipeline has a fixed shape: loop over known values instead of recursing",
)
HELPER_NOT_INLINABLE = Rule(
    "PC216",
    "helper-not-inlinable",
    _E,
    "helper `{helper}` calls steps, so its body is compiled into the controller, which "
    "cannot hold {what}",
    "keep a helper that calls steps to plain statements ending in one `return`, with "
    "named parameters whose defaults are constants; or call the steps in the controller",
)
HELPER_CALL_MISMATCH = Rule(
    "PC217",
    "helper-call-mismatch",
    _E,
    "this call does not match the parameters of helper `{helper}`",
    "pass each parameter once, by position or by name, as Python requires",
)

# ---- PC3xx: step calls --------------------------------------------------------------------------

STAR_ARGS_IN_STEP_CALL = Rule(
    "PC301",
    "star-args-in-step-call",
    _E,
    "`{star}` arguments in a call of step `{step}`",
    "pass every argument by position or by name: pipec binds them at compile time",
)
TOO_MANY_POSITIONAL = Rule(
    "PC302",
    "too-many-positional",
    _E,
    "step `{step}` takes {count} positional argument{s} but more were given",
    "the signature is {signature}",
)
UNKNOWN_KEYWORD = Rule(
    "PC303",
    "unknown-keyword",
    _E,
    "step `{step}` has no parameter `{keyword}`",
    "the signature is {signature}",
)
ARGUMENT_GIVEN_TWICE = Rule(
    "PC304",
    "argument-given-twice",
    _E,
    "step `{step}` got two values for `{keyword}`",
    "pass each argument once",
)
MISSING_ARGUMENT = Rule(
    "PC305",
    "missing-argument",
    _E,
    "step `{step}` is missing required argument{s} {listed}",
    "pass {names}: the signature is {signature}",
)
UNPACK_COUNT_MISMATCH = Rule(
    "PC306",
    "unpack-count-mismatch",
    _E,
    "{what} but is unpacked into {count} names",
    "unpack into as many names as there are values (a step's return_values)",
)
PARENT_NOT_CALLED_BEFORE = Rule(
    "PC308",
    "parent-not-called-before",
    _E,
    "parent `{parent}` of step `{step}` is not called before it",
    "name a step that the controller calls earlier, by its step name",
)
PARENT_CALLED_IN_REPLACED_PIPELINE = Rule(
    "PC312",
    "parent-called-in-replaced-pipeline",
    _E,
    "parent `{parent}` of step `{step}` is called only by the definition of pipeline "
    "`{pipeline}` at line {earlier}, which the definition at line {last} replaces, as in Python",
    "call `{parent}` in the last definition of `{pipeline}`, or remove the earlier one",
)
STEP_USED_AS_VALUE = Rule(
    "PC309",
    "step-used-as-value",
    _E,
    "step `{step}` is used as a value, not called by name",
    "call it directly (`{step}(...)`): pipec must know which step runs at compile "
    "time; to choose between steps, use `if`/`else` with a direct call in each branch",
)
STEP_FROM_GETATTR = Rule(
    "PC310",
    "step-from-getattr",
    _E,
    "step `{step}` is looked up with getattr",
    "call `{step}(...)` directly; choose between steps with `if`/`else`",
)
STEP_REACHED_THROUGH_MODULE_CODE = Rule(
    "PC311",
    "step-reached-through-module-code",
    _E,
    "controller code reaches step `{step}` through module-level code",
    "call `{step}(...)` directly in the controller: pipec must see every step "
    "call to make it a node (a step inside a helper or a dict would run as glue)",
)

# ---- PC4xx: loops, comprehensions and maps ------------------------------------------------------

TOO_MANY_ITERATIONS = Rule(
    "PC401",
    "too-many-iterations",
    _E,
    "this loop would unroll into {count} iterations",
    "loop over at most {limit} values, or loop inside a step",
)
LOOP_VALUES_NOT_UNPACKABLE = Rule(
    "PC402",
    "loop-values-not-unpackable",
    _E,
    "cannot unpack the loop's values at compile time",
    "loop over a list of tuples of the same length as the target",
)
BREAK_UNDER_RUNTIME_CONDITION = Rule(
    "PC403",
    "break-under-runtime-condition",
    _E,
    "`{word}` under a condition decided at run time",
    "the loops of a compiled controller are unrolled before it runs: filter the "
    "values first (in a step), or decide inside the step",
)
SET_COMPREHENSION_OF_STEPS = Rule(
    "PC404",
    "set-comprehension-of-steps",
    _E,
    "set comprehension that calls steps",
    "build a list instead; a set of step outputs has no order",
)
COMPREHENSION_VALUES_NOT_UNPACKABLE = Rule(
    "PC405",
    "comprehension-values-not-unpackable",
    _E,
    "cannot unpack the comprehension's values at compile time",
    "iterate over tuples of the target's length",
)
RUNTIME_COMPREHENSION_FILTER = Rule(
    "PC406",
    "runtime-comprehension-filter",
    _E,
    "a comprehension filter decided at run time around a step call",
    "write it as a `for` loop, whose `if` runs at run time: "
    "`results = []`, `for x in values:`, `if test:`, `results.append(step(x))`",
)
NESTED_RUNTIME_COMPREHENSION = Rule(
    "PC407",
    "nested-runtime-comprehension",
    _E,
    "nested comprehension over a run-time value",
    "use one level of comprehension over a step's output",
)
RUNTIME_DICT_KEY = Rule(
    "PC408",
    "runtime-dict-key",
    _E,
    "dict comprehension key not known at compile time",
    "use keys made of constants and loop variables",
)
UNSUPPORTED_MAP_COMPREHENSION = Rule(
    "PC409",
    "unsupported-map-comprehension",
    _E,
    "this comprehension over a run-time value is not supported",
    "write `[step(x) for x in values if test(x)]` with one `for`, filters that call no step "
    "and no `:=`, or a `for` loop",
)
FOR_ELSE_OVER_RUNTIME_VALUE = Rule(
    "PC410",
    "for-else-over-runtime-value",
    _E,
    "`for ... else` over a run-time value",
    "drop the `else`: a fan-out always runs every element",
)
NESTED_RUNTIME_LOOPS = Rule(
    "PC411",
    "nested-runtime-loops",
    _E,
    "a loop over a run-time value inside another one",
    "move the inner loop into a step",
)
UNPACKING_IN_RUNTIME_LOOP = Rule(
    "PC412",
    "unpacking-in-runtime-loop",
    _E,
    "a loop over a run-time value assigns its elements to an item or an attribute",
    "loop with names (`for key, value in pairs:`) and assign inside the body",
)
CARRIED_OUT_OF_RUNTIME_LOOP = Rule(
    "PC413",
    "carried-out-of-runtime-loop",
    _E,
    "`{name}` is assigned inside a loop over a run-time value and read after it",
    "collect it per element: `{name}s = []` before the loop, `{name}s.append({name})` inside",
)
PRINT_IN_RUNTIME_LOOP = Rule(
    "PC414",
    "print-in-runtime-loop",
    _E,
    "printing inside a loop over a run-time value",
    "the loop's iterations run in parallel: collect what you want to show in a list "
    "and print it after the loop",
)
CHECK_IN_RUNTIME_LOOP = Rule(
    "PC415",
    "check-in-runtime-loop",
    _E,
    "`assert` or `raise` inside a loop over a run-time value",
    _CHECK_AFTER_LOOP,
)
RAISE_IN_RUNTIME_LOOP = Rule(
    "PC416",
    "raise-in-runtime-loop",
    _E,
    "`raise` inside a loop over a run-time value",
    _CHECK_AFTER_LOOP,
)
BREAK_IN_RUNTIME_LOOP = Rule(
    "PC417",
    "break-in-runtime-loop",
    _E,
    "`{word}` in a loop over a run-time value",
    "every element of a run-time loop runs (in parallel): filter the values in a "
    "step before the loop",
)
RETURN_IN_RUNTIME_LOOP = Rule(
    "PC418",
    "return-in-runtime-loop",
    _E,
    "`return` inside a loop over a run-time value",
    "collect the values in a list and return after the loop",
)
UNSUPPORTED_GATHER = Rule(
    "PC419",
    "unsupported-gather",
    _E,
    "`{name}.{method}(...)` inside a loop over a run-time value",
    "start with `{name} = []` before the loop and append once per iteration",
)

LAZY_STEP_GENERATOR = Rule(
    "PC499",
    "lazy-step-generator",
    _E,
    "this generator expression calls step `{step}` lazily: Python runs each call only when "
    "{consumer} asks for the next value{stops}, but a compiled controller runs every call "
    "before anything reads the values",
    "write a list comprehension (`[{step}(...) for ...]`), which runs every call in Python too, "
    "or a `for` loop that calls the step and stops with `break`",
)

# ---- PC5xx: branches ----------------------------------------------------------------------------

IF_IN_RUNTIME_LOOP = Rule(
    "PC501",
    "if-in-runtime-loop",
    _E,
    "`if` on a value known only at run time, inside a loop over a run-time value",
    "decide inside the step; to skip the rest of an element, write `if TEST: continue` on its "
    "own (no `else`, only `continue` in it) directly in the loop body, its test reading the "
    "element, names set above it in the body and names the loop does not change",
)
CONDITIONAL_STEP_IN_RUNTIME_LOOP = Rule(
    "PC502",
    "conditional-step-in-runtime-loop",
    _E,
    "conditional step call inside a loop over a run-time value",
    "decide inside the step",
)

MATCH_IN_RUNTIME_LOOP = Rule(
    "PC503",
    "match-in-runtime-loop",
    _E,
    "`match` with step calls inside a loop over a run-time value, on a subject known only "
    "at run time",
    "decide inside the step, or loop over the values in a step of its own",
)
BREAK_UNDER_TEST_IN_RUNTIME_LOOP = Rule(
    "PC505",
    "break-under-test-in-runtime-loop",
    _E,
    "`break` under a test decided at run time, inside a loop over a run-time value: the "
    "elements a fan-out runs are chosen before any of them runs",
    "make `if TEST: break` the first statement of the body, its test reading only the element "
    "and values set before the loop; or find where to stop before the loop (in a step, or in "
    "glue such as `files = files[:stop]`) and loop over what is left",
)
STEP_IN_CASE_GUARD = Rule(
    "PC504",
    "step-in-case-guard",
    _E,
    "a step call in a `case` guard, which Python runs only when the pattern matches",
    "call the step before the `match` and test its result in the guard",
)

# ---- PC6xx: names -------------------------------------------------------------------------------

USED_BEFORE_ASSIGNED = Rule(
    "PC601",
    "used-before-assigned",
    _E,
    "`{name}` is used before it is assigned",
    "assign `{name}` earlier in the controller",
)
UNDEFINED_NAME = Rule(
    "PC602",
    "undefined-name",
    _E,
    "name `{name}` is not defined",
    "define `{name}` at module level or assign it in the controller before this line",
)
STEP_NAME_ASSIGNED = Rule(
    "PC607",
    "step-name-assigned",
    _E,
    "`{name}` is assigned in the controller, so Python makes it a local variable of the whole "
    "controller and `{name}(...)` raises UnboundLocalError instead of calling the step",
    "give the variable another name, e.g. `{name}_value = {name}(...)`",
)
NON_ASCII_NAME = Rule(
    "PC604",
    "non-ascii-name",
    _E,
    "{what} `{name}` is not an ASCII name: pipec names nodes, files and run records after it",
    "rename it with ASCII letters, digits and `_`",
)
MUTATED_ALIAS = Rule(
    "PC605",
    "mutated-alias",
    _E,
    "`{name}` is changed in place while `{other}` refers to the same object; the compiled "
    "controller cannot carry the change over to `{other}`",
    "make a copy before changing it (`{name} = list({name})`, `dict(...)`, `copy.copy(...)`), "
    "or change it before it gets a second name",
)
MUTATED_MODULE_VALUE = Rule(
    "PC606",
    "mutated-module-value",
    _E,
    "the controller changes the module-level value `{name}` in place",
    "copy it into a controller variable first: `{lower} = list({name})`, then change the copy",
)
MUTATED_SHARED_VALUE = Rule(
    "PC611",
    "mutated-shared-value",
    _E,
    "`{name}` is changed in place while `{other}` may hold the same object or one inside it "
    "(controller code built one from the other); the compiled controller gives each name its "
    "own copy, so the change would not reach `{other}`",
    "copy when building one from the other (`list(...)`, `dict(...)`, `copy.deepcopy(...)`), "
    "or make the change before `{other}` is built from it",
)
SHARED_BY_UNKNOWN_CALL = Rule(
    "PC616",
    "shared-by-unknown-call",
    _E,
    "`{name}` is changed in place while `{other}` may hold the same object or one inside it: "
    "both went through `{call}` (line {line}), and pipec cannot see inside it (it may keep one "
    "inside the other, or change what they share); the compiled controller gives each name its "
    "own copy, so the change would not reach `{other}`",
    "hand the call a copy (`copy.deepcopy({name})`), make the change before the call, or make "
    "the call and the change inside one step",
)
MODULE_STATE_ACROSS_BLOCKS = Rule(
    "PC698",
    "module-state-across-blocks",
    _E,
    "`{call}` (line {line}) sets state that module `{module}` keeps in its process, and this "
    "later block of controller code reads `{read}`; each block of compiled controller code "
    "runs in a process of its own, where `{module}` starts afresh without that state",
    "make the call at module level (every script runs it), inside the step that needs it, or "
    "in the same block as the code that depends on it (no step call between them)",
)
STEP_READS_PROCESS_STATE = Rule(
    "PC697",
    "step-reads-process-state",
    _E,
    "`{call}` (line {line}) changes state that `{module}` keeps in its process, and step "
    "`{step}` (called at line {called}) then reads it with `{read}`: in Python the step goes on "
    "from that state, but it runs in a process of its own, where `{module}` starts as the "
    "file's module-level code leaves it",
    "pass what the step needs as an argument and set it inside the step (a seed: "
    "`random.Random(seed)`, `np.random.default_rng(seed)`; a setting: `os.environ[...]` in the "
    "step that reads it), or set it once at module level, where every script runs it",
)
STEP_DRAWS_IN_RUNTIME_LOOP = Rule(
    "PC696",
    "step-draws-in-runtime-loop",
    _E,
    "step `{step}` draws from the generator `{module}` keeps (`{read}`) and is called in a loop "
    "over a run-time value (line {called}): in Python each call goes on from the numbers the "
    "one before drew, but each compiled call runs in a process of its own and starts from the "
    "module-level seed again",
    "give the step its own generator seeded from an argument: "
    "`np.random.default_rng(seed + i)`, `random.Random(seed + i)`",
)
SHARED_STEP_ARGUMENTS = Rule(
    "PC617",
    "shared-step-arguments",
    _E,
    "two arguments of `{step}` reach one object (`{first}` and `{second}`); each argument "
    "reaches the step on its own, as a copy, so the step would see two objects where Python "
    "passes one",
    "pass the object once (`{step}(pair)` with `pair = ({first}, {second})`, unpacked in the "
    "step), or make one argument a copy (`copy.deepcopy(...)`)",
)
IDENTITY_OF_COPIES = Rule(
    "PC618",
    "identity-of-copies",
    _E,
    "`{test}` tests whether two values are one object, and in Python they may be (controller "
    "code built one from the other, or from a module-level value, or a step called as a "
    "function returned what it was given); the compiled controller hands each value on as a "
    "copy of its own, so the test would answer differently",
    "compare with `==`, or make the identity test inside a step, or in the same block of "
    "controller code that gave the values (no step call between them)",
)
ID_ACROSS_STEP_CALL = Rule(
    "PC620",
    "id-across-step-call",
    _E,
    "`{test}` compares an `id(...)` or `hash(...)` that an earlier block of controller code "
    "kept (`{name}`) with one taken now; in Python the object is the same and so is its id, "
    "but the compiled controller runs each block in a process of its own and reads the object "
    "there as a new one, with another id (and strings there hash with another salt), so the "
    "comparison would answer differently",
    "compare the objects themselves (`==`), or take the id and compare it in one block of "
    "controller code (no step call between them)",
)
EQUALITY_OF_COPIES = Rule(
    "PC619",
    "equality-of-copies",
    _E,
    "`{test}` compares with `==`, and {kinds} are equal only to themselves: in Python the two "
    "sides may hold one such object (a step called as a function may return its argument, "
    "controller code may put one object in two values, a module-level one is one object in "
    "one process), and the compiled controller hands each value on as a copy of its own, so "
    "the comparison would answer differently",
    "give the class an `__eq__` (or make it a `@dataclass`), compare a field (`a.name == "
    "b.name`), or make the comparison inside a step, or before the step call that copies the "
    "values",
)
CLEARML_OBJECT_ACROSS_STEPS = Rule(
    "PC699",
    "clearml-object-across-steps",
    _E,
    # A Task may cross (it pickles by id and comes back as the same server task), and a Logger
    # taken from a Task kept in a name is taken again from it; these are the cases left.
    "{held} (`{call}`, line {line}), used {where}; each block of compiled controller code runs "
    "in a process of its own, {cause}",
    "{fix}",
)
MODULE_VALUE_CHANGED_BY_CALL = Rule(
    "PC612",
    "module-value-changed-by-call",
    _E,
    "`{function}` changes the module-level value `{name}`; the compiled controller runs this "
    "call in a process of its own, so later steps and controller code would still see the old "
    "`{name}`",
    "have `{function}` return the new value and pass it to what needs it, or set `{name}` at "
    "module level",
)
MODULE_OBJECT_CHANGED = Rule(
    "PC613",
    "module-object-changed",
    _E,
    "the controller changes `{target}`, part of the module-level `{name}`; each step script and "
    "block of controller code runs in a process of its own, so later ones would not see the "
    "change",
    "make the change at module level (each script runs the module's top-level statements), or "
    "pass the value to the steps that need it as an argument",
)
MODULE_NAME_MADE_LOCAL = Rule(
    "PC608",
    "module-name-made-local",
    _E,
    "`{name}` is assigned in the controller, so Python makes it a local variable of the whole "
    "controller: reading it before that assignment raises UnboundLocalError, it does not read "
    "the module-level `{name}`",
    "give the controller's variable another name, e.g. `{lower} = list({name})`, and use that",
)

STAR_IMPORT_NOT_FOUND = Rule(
    "PC609",
    "star-import-not-found",
    _W,
    "`{name}` is defined nowhere in this file, so only `from {module} import *` could define "
    "it, and `{module}` is neither a module of this project nor installed here",
    "import the name itself (`from {module} import {name}`), or build where `{module}` is "
    "installed; a script that reads `{name}` fails with NameError if `{module}` does not "
    "define it",
)
NOT_DEFINED_BY_STAR_IMPORT = Rule(
    "PC610",
    "not-defined-by-star-import",
    _E,
    "name `{name}` is not defined: nothing in this file defines it, and the star imports of "
    "{modules} do not export it{suggestion}",
    "define `{name}`, import it by name, or add it to the module's `__all__`",
)
STAR_IMPORT_TRUSTED = Rule(
    "PC614",
    "star-import-trusted",
    _W,
    "{count} defined nowhere in this file, taken without checking to come from {imports} "
    "(pipec never imports an installed package at build time, so it cannot read what it "
    "exports): {names}",
    "correct the names that are typos; import the others by name (`from {module} import "
    "{name}`) so the build can check them; a script that reads a name `{module}` does not "
    "define stops with NameError when it runs",
)

LEFT_OUT_OF_ALL = Rule(
    "PC615",
    "left-out-of-all",
    _E,
    "name `{name}` is not defined: `{module}` defines it, but its `__all__` leaves it out, so "
    "`from {module} import *` does not bind it",
    "add `{name}` to `__all__` in {module}, or import it by name (`from {module} import {name}`)",
)

UNDEFINED_NAME_IN_STEP = Rule(
    "PC603",
    "undefined-name-in-step",
    _E,
    "name `{name}` is not defined{suggestion}",
    "define or import it at module level: the step would stop with NameError when it runs",
)

ALL_RULES: tuple[Rule, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Rule))


def rule_by_code(code: str) -> Rule | None:
    return next((r for r in ALL_RULES if r.code == code), None)
