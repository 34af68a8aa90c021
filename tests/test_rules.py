"""The catalogue of refusal rules: stable codes, a hint for each, a snapshot for each, its docs."""

from __future__ import annotations

import re

from golden_build import INVALID, REGENERATE, RULES_DOCUMENT, invalid_case_names, rules_document

from pipec.compiler.rules import ALL_RULES, rule_by_code

# The committed codes. A code names one rule for good: renumbering or reusing one fails here.
CODES = {
    "PC001": "syntax-error",
    "PC002": "local-module-syntax-error",
    "PC003": "several-decorators",
    "PC004": "async-function",
    "PC005": "not-at-module-level",
    "PC006": "no-pipeline",
    "PC007": "no-pipeline-named",
    "PC008": "several-pipelines",
    "PC009": "positional-decorator-argument",
    "PC010": "star-parameters",
    "PC011": "positional-only-parameters",
    "PC012": "relative-import",
    "PC013": "assigned-only-under-main",
    "PC014": "redefined-function",
    "PC015": "clearml-server-call",
    "PC016": "clearml-server-call-refused",
    "PC017": "newer-python-syntax",
    "PC018": "decorator-from-elsewhere",
    "PC019": "nested-too-deeply",
    "PC020": "module-statement-print-dropped",
    "PC021": "module-statement-not-carried",
    "PC022": "decorator-above-component",
    "PC023": "decorator-on-pipeline",
    "PC024": "code-after-main-not-carried",
    "PC025": "print-inside-module-statement",
    "PC026": "setup-with-lasting-effect",
    "PC027": "module-print-to-file",
    "PC028": "bound-after-main",
    "PC029": "clearml-call-left-out",
    "PC030": "enclosed-pipeline",
    "PC031": "read-before-bound",
    "PC098": "generator-controller",
    "PC099": "reserved-name",
    "PC101": "option-not-literal",
    "PC102": "inert-component-option",
    "PC103": "option-source-kept",
    "PC104": "unknown-component-option",
    "PC105": "bad-return-values",
    "PC106": "retry-not-literal",
    "PC107": "bad-retry",
    "PC108": "bad-parents",
    "PC109": "bad-packages",
    "PC110": "bad-helper-functions",
    "PC111": "return-count-mismatch",
    "PC112": "returns-nothing",
    "PC113": "packages-file-not-found",
    "PC114": "unsupported-requirement-line",
    "PC115": "guessed-requirement",
    "PC116": "misspelled-option",
    "PC117": "repository-requirements-not-found",
    "PC118": "project-module-not-found",
    "PC119": "per-process-module-value",
    "PC120": "generator-step",
    "PC121": "unknown-task-type",
    "PC148": "step-changes-module-value",
    "PC149": "generator-returned",
    "PC150": "file-read-at-build-path",
    "PC151": "inert-pipeline-option",
    "PC152": "unknown-pipeline-option",
    "PC153": "pipeline-option-not-text",
    "PC154": "bad-abort-on-failure",
    "PC155": "parameter-default-not-literal",
    "PC156": "pipeline-called-twice",
    "PC157": "ignored-under-main",
    "PC158": "star-args-in-pipeline-call",
    "PC159": "pipeline-call-too-many-arguments",
    "PC160": "pipeline-call-unknown-parameter",
    "PC161": "pipeline-call-value-not-literal",
    "PC199": "parameter-default-is-path",
    "PC201": "while-loop",
    "PC202": "try-statement",
    "PC203": "with-statement",
    "PC204": "function-in-controller",
    "PC205": "class-in-controller",
    "PC206": "global-statement",
    "PC207": "nonlocal-statement",
    "PC208": "import-in-controller",
    "PC209": "del-statement",
    "PC210": "unsupported-statement",
    "PC211": "unreachable-code",
    "PC212": "recursive-controller",
    "PC213": "imported-name-passed-on",
    "PC214": "conditional-walrus",
    "PC215": "recursive-helper",
    "PC216": "helper-not-inlinable",
    "PC217": "helper-call-mismatch",
    "PC297": "namespace-read",
    "PC298": "late-bound-lambda",
    "PC299": "generator-handed-on",
    "PC301": "star-args-in-step-call",
    "PC302": "too-many-positional",
    "PC303": "unknown-keyword",
    "PC304": "argument-given-twice",
    "PC305": "missing-argument",
    "PC306": "unpack-count-mismatch",
    "PC308": "parent-not-called-before",
    "PC309": "step-used-as-value",
    "PC310": "step-from-getattr",
    "PC311": "step-reached-through-module-code",
    "PC312": "parent-called-in-replaced-pipeline",
    "PC401": "too-many-iterations",
    "PC402": "loop-values-not-unpackable",
    "PC403": "break-under-runtime-condition",
    "PC404": "set-comprehension-of-steps",
    "PC405": "comprehension-values-not-unpackable",
    "PC406": "runtime-comprehension-filter",
    "PC407": "nested-runtime-comprehension",
    "PC408": "runtime-dict-key",
    "PC409": "unsupported-map-comprehension",
    "PC410": "for-else-over-runtime-value",
    "PC411": "nested-runtime-loops",
    "PC412": "unpacking-in-runtime-loop",
    "PC413": "carried-out-of-runtime-loop",
    "PC414": "print-in-runtime-loop",
    "PC415": "check-in-runtime-loop",
    "PC416": "raise-in-runtime-loop",
    "PC417": "break-in-runtime-loop",
    "PC418": "return-in-runtime-loop",
    "PC419": "unsupported-gather",
    "PC499": "lazy-step-generator",
    "PC501": "if-in-runtime-loop",
    "PC502": "conditional-step-in-runtime-loop",
    "PC503": "match-in-runtime-loop",
    "PC504": "step-in-case-guard",
    "PC505": "break-under-test-in-runtime-loop",
    "PC601": "used-before-assigned",
    "PC602": "undefined-name",
    "PC603": "undefined-name-in-step",
    "PC604": "non-ascii-name",
    "PC605": "mutated-alias",
    "PC606": "mutated-module-value",
    "PC607": "step-name-assigned",
    "PC608": "module-name-made-local",
    "PC609": "star-import-not-found",
    "PC610": "not-defined-by-star-import",
    "PC611": "mutated-shared-value",
    "PC612": "module-value-changed-by-call",
    "PC613": "module-object-changed",
    "PC614": "star-import-trusted",
    "PC615": "left-out-of-all",
    "PC616": "shared-by-unknown-call",
    "PC617": "shared-step-arguments",
    "PC618": "identity-of-copies",
    "PC619": "equality-of-copies",
    "PC620": "id-across-step-call",
    "PC696": "step-draws-in-runtime-loop",
    "PC697": "step-reads-process-state",
    "PC698": "module-state-across-blocks",
    "PC699": "clearml-object-across-steps",
}

# Codes of rules pipec no longer needs (the construct is compiled now). Never given to another rule.
RETIRED = {
    "PC307": "single-output-unpacked",  # issue 10: unpacked at run time, as Python does
}

# Rules with no diagnostic snapshot in tests/cases/invalid/ yet: warnings (a snapshot needs an
# error to exit 2), rules that need a second file or a flag, and ones not yet written. Adding a
# snapshot for one of them means removing it here.
WITHOUT_SNAPSHOT = {
    "PC002",  # local-module-syntax-error
    "PC003",  # several-decorators
    "PC007",  # no-pipeline-named
    "PC009",  # positional-decorator-argument
    "PC010",  # star-parameters
    "PC011",  # positional-only-parameters
    "PC012",  # relative-import
    "PC016",  # clearml-server-call-refused (needs --strict-clearml)
    "PC024",  # code-after-main-not-carried (a warning: its test is in test_real_world_sweep.py)
    "PC028",  # bound-after-main (a warning: its test is in test_late_bindings.py)
    "PC029",  # clearml-call-left-out (a warning: its test is in test_module_clearml_calls.py)
    "PC102",  # inert-component-option
    "PC103",  # option-source-kept
    "PC104",  # unknown-component-option
    "PC106",  # retry-not-literal
    "PC108",  # bad-parents
    "PC109",  # bad-packages
    "PC110",  # bad-helper-functions
    "PC112",  # returns-nothing
    "PC113",  # packages-file-not-found
    "PC114",  # unsupported-requirement-line
    "PC115",  # guessed-requirement
    "PC117",  # repository-requirements-not-found
    "PC118",  # project-module-not-found
    "PC119",  # per-process-module-value
    "PC151",  # inert-pipeline-option
    "PC152",  # unknown-pipeline-option
    "PC153",  # pipeline-option-not-text
    "PC154",  # bad-abort-on-failure
    "PC156",  # pipeline-called-twice
    "PC158",  # star-args-in-pipeline-call
    "PC159",  # pipeline-call-too-many-arguments
    "PC161",  # pipeline-call-value-not-literal
    "PC207",  # nonlocal-statement
    "PC211",  # unreachable-code
    "PC308",  # parent-not-called-before
    "PC401",  # too-many-iterations
    "PC402",  # loop-values-not-unpackable
    "PC405",  # comprehension-values-not-unpackable
    "PC406",  # runtime-comprehension-filter
    "PC407",  # nested-runtime-comprehension
    "PC409",  # unsupported-map-comprehension
    "PC601",  # used-before-assigned
    "PC609",  # star-import-not-found (a warning)
    "PC610",  # not-defined-by-star-import (needs a second file)
}


def test_codes_are_stable_and_unique():
    assert {r.code: r.name for r in ALL_RULES} == CODES
    assert len({r.code for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)
    assert all(re.fullmatch(r"PC\d{3}", r.code) for r in ALL_RULES)
    assert rule_by_code("PC201") is not None and rule_by_code("PC201").name == "while-loop"
    assert rule_by_code("PC999") is None
    assert not set(RETIRED) & set(CODES)
    assert not set(RETIRED.values()) & set(CODES.values())


def test_every_rule_says_how_to_fix_it():
    assert [r.code for r in ALL_RULES if not r.hint.strip()] == []


def test_every_rule_has_a_snapshot_or_is_listed_as_missing_one():
    shown: set[str] = set()
    for case in invalid_case_names():
        snapshot = INVALID / f"{case}.txt"
        if snapshot.is_file():
            shown |= set(
                re.findall(r"^\S+: (?:error|warning)\[(PC\d{3})\]: ", snapshot.read_text(), re.M)
            )
    missing = {r.code for r in ALL_RULES} - shown
    if missing != WITHOUT_SNAPSHOT:
        print("rules without a snapshot:", ", ".join(sorted(missing)))
    assert missing - WITHOUT_SNAPSHOT == set(), "add a case to tests/cases/invalid/"
    assert WITHOUT_SNAPSHOT - missing == set(), "these have a snapshot now: drop them from the list"
    assert shown <= set(CODES), "a snapshot shows a code that is not in the catalogue"


def test_the_rules_document_is_up_to_date():
    assert RULES_DOCUMENT.read_text(encoding="utf-8") == rules_document(), (
        f"stale {RULES_DOCUMENT.name}; run `{REGENERATE}`"
    )
