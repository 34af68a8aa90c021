"""Check the steps' requirements against the interpreter that will run them.

One probe process (``python -c``, standard library only) reports the interpreter's
version and the installed version of every distribution any node needs; the comparison
is pure.  Specs are pip requirement strings: ``numpy``, ``scikit-learn==1.9.1``,
``pkg>=1.0,<2``, ``pkg~=1.4``, ``pkg==1.*``.  Environment markers are not evaluated
(the requirement is checked as if the marker held).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipec.record import InterpreterInfo
from pipec.value_methods import ValueMethods

__all__ = [
    "Mismatch",
    "ProbeError",
    "ProbeResult",
    "Requirement",
    "find_mismatches",
    "format_mismatches",
    "parse_requirement",
    "probe_interpreter",
    "version_key",
]

_PROBE = r"""
import json, sys
from importlib import metadata
found = {}
for name in json.loads(sys.argv[1]):
    try:
        found[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        found[name] = None
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "installed": found,
}))
"""


class ProbeError(Exception):
    """The interpreter could not be started or did not answer."""


@dataclass(frozen=True, eq=False, repr=False)
class Requirement(ValueMethods):
    """One line of a requirements file, parsed."""

    text: str
    name: str  # normalized distribution name
    specifiers: tuple[tuple[str, str], ...]  # (operator, version)


@dataclass(frozen=True, eq=False, repr=False)
class ProbeResult(ValueMethods):
    """An interpreter and the versions it has of the required distributions."""

    interpreter: InterpreterInfo
    installed: Mapping[str, str | None]  # normalized name -> version, None when absent


@dataclass(frozen=True, eq=False, repr=False)
class Mismatch(ValueMethods):
    """A requirement of a node that the installed version does not meet."""

    node: str
    requirement: Requirement
    installed: str | None


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_SPEC = re.compile(r"^\s*(===|==|!=|~=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> Requirement:
    """Split a pip spec into its name and version specifiers; ValueError when unreadable."""
    head = text.split(";", 1)[0].split("#", 1)[0]
    match = _NAME.match(head)
    if not match:
        raise ValueError(f"cannot read requirement {text!r}")
    name, _extras, rest = match.groups()
    rest = rest.strip()
    if rest.startswith("@"):  # a direct reference: only its presence can be checked
        return Requirement(text.strip(), normalize(name), ())
    specifiers: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in rest.strip("()").split(","))):
        spec = _SPEC.match(part)
        if not spec:
            raise ValueError(f"cannot read version specifier {part!r} in {text!r}")
        specifiers.append((spec.group(1), spec.group(2)))
    return Requirement(text.strip(), normalize(name), tuple(specifiers))


# Compiled on first use (re keeps it): most runs compare no versions, and compiling it costs a
# run's start more than any other pattern pipec has.
_VERSION = (
    r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:-(?P<post_implicit>\d+)|[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$"
)
_PHASES = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


def version_key(
    text: str,
) -> tuple[int, tuple[int, ...], tuple[int, int], int, tuple[int, int]] | None:
    """An order-preserving key for a PEP 440 version (local part ignored), None when not one."""
    match = re.match(_VERSION, text.strip(), re.IGNORECASE)
    if not match:
        return None
    release = tuple(int(part) for part in match["release"].split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    post_text = match["post_implicit"] or match["post_n"]
    has_post = match["post_implicit"] is not None or match["post_n"] is not None
    has_dev = match["dev_n"] is not None
    if match["pre_l"]:
        pre = (_PHASES[match["pre_l"].lower()], int(match["pre_n"] or 0))
    elif has_dev and not has_post:
        pre = (-1, 0)  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = (3, 0)
    post = int(post_text or 0) if has_post else -1
    dev = (0, int(match["dev_n"] or 0)) if has_dev else (1, 0)
    return (int(match["epoch"] or 0), release, pre, post, dev)


def satisfies(installed: str, specifiers: Iterable[tuple[str, str]]) -> bool:
    return all(_satisfies_one(installed, op, wanted) for op, wanted in specifiers)


def _satisfies_one(installed: str, op: str, wanted: str) -> bool:
    if op == "===":
        return installed == wanted
    if op in ("==", "!=") and wanted.endswith(".*"):
        prefix = [int(p) for p in wanted[:-2].split(".") if p.isdigit()]
        have = _release(installed)
        inside = have is not None and (have + [0] * len(prefix))[: len(prefix)] == prefix
        return inside if op == "==" else not inside
    have_key, want_key = version_key(installed), version_key(wanted)
    if have_key is None or want_key is None:
        return op != "==" or installed == wanted
    if op == "~=":
        base = wanted.split(".")[:-1]
        return have_key >= want_key and _satisfies_one(installed, "==", ".".join(base) + ".*")
    comparisons = {
        "==": have_key == want_key,
        "!=": have_key != want_key,
        "<": have_key < want_key,
        "<=": have_key <= want_key,
        ">": have_key > want_key,
        ">=": have_key >= want_key,
    }
    return comparisons[op]


def _release(text: str) -> list[int] | None:
    match = re.match(_VERSION, text.strip(), re.IGNORECASE)
    return [int(p) for p in match["release"].split(".")] if match else None


def probe_interpreter(python: str, distributions: Iterable[str]) -> ProbeResult:
    """Run the interpreter once and read its version and the installed distributions."""
    names = sorted({normalize(name) for name in distributions} | {"cloudpickle"})
    if python == sys.executable:
        # The steps run on this very interpreter: ask it here instead of starting another.
        return _probe_here(names)
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, json.dumps(names)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeError(f"cannot run the interpreter {python!r}: {exc}") from None
    if done.returncode != 0:
        raise ProbeError(f"the interpreter {python!r} failed to start:\n{done.stderr.strip()}")
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise ProbeError(
            f"the interpreter {python!r} gave no usable answer: {done.stdout!r}"
        ) from None
    installed: dict[str, str | None] = answer["installed"]
    return ProbeResult(
        interpreter=InterpreterInfo(
            executable=str(answer["executable"]),
            version=str(answer["version"]),
            implementation=str(answer["implementation"]),
            cloudpickle=installed.get("cloudpickle"),
        ),
        installed=installed,
    )


def _probe_here(names: Sequence[str]) -> ProbeResult:
    installed = _installed_versions(names)
    return ProbeResult(
        interpreter=InterpreterInfo(
            executable=sys.executable,
            version=".".join(str(part) for part in sys.version_info[:3]),
            implementation=sys.implementation.name,
            cloudpickle=installed.get("cloudpickle"),
        ),
        installed=installed,
    )


def _installed_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Each distribution's version in this interpreter, as `importlib.metadata.version` gives it.

    Importing importlib.metadata (with email and zipfile) is a large part of what `pipec run`
    costs before its first step, so the common case is read from the folder names: the first
    sys.path folder holding `NAME-VERSION.dist-info` for a name (the order importlib.metadata
    searches in). A name met first in another form (an .egg-info, a zip on sys.path) is asked
    of importlib.metadata after all.
    """
    wanted = {_dist_key(name) for name in names}
    found: dict[str, str | None] = {}  # by key
    unsure: set[str] = set()
    for entry in sys.path:
        if len(found) + len(unsure) == len(wanted):
            break
        try:
            children = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip file: its distributions only importlib.metadata reads
            unsure |= wanted - set(found)
            break
        except OSError:
            continue
        for child in children:
            lower = child.lower()
            if not lower.endswith((".dist-info", ".egg-info")):
                continue
            stem = child.rpartition(".")[0]
            key = _dist_key(stem.partition("-")[0])
            if key not in wanted or key in found or key in unsure:
                continue
            version = stem.partition("-")[2]
            if lower.endswith(".dist-info") and version and "-" not in version:
                found[key] = version
            else:
                unsure.add(key)
    if unsure:
        from importlib import metadata

        for name in names:
            if _dist_key(name) in unsure:
                try:
                    found[_dist_key(name)] = metadata.version(name)
                except metadata.PackageNotFoundError:
                    found[_dist_key(name)] = None
    return {name: found.get(_dist_key(name)) for name in names}


def _dist_key(name: str) -> str:
    """A distribution name as importlib.metadata compares them (`Scikit_Learn` = `scikit-learn`)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def find_mismatches(
    needs: Mapping[str, Sequence[Requirement]], installed: Mapping[str, str | None]
) -> list[Mismatch]:
    """Every (node, requirement) the interpreter does not satisfy, in node order."""
    found: list[Mismatch] = []
    for node, requirements in needs.items():
        for requirement in requirements:
            version = installed.get(requirement.name)
            if version is None or not satisfies(version, requirement.specifiers):
                found.append(Mismatch(node, requirement, version))
    return found


def format_mismatches(python: str, mismatches: Sequence[Mismatch]) -> str:
    import shlex  # only for this message: not on the path of a run that goes ahead

    lines = [f"the interpreter {python} lacks packages the steps need:"]
    for item in mismatches:
        have = "not installed" if item.installed is None else f"installed: {item.installed}"
        lines.append(f"  {item.node}: {item.requirement.text} ({have})")
    specs = sorted({item.requirement.text for item in mismatches})
    lines.append("install them with:")
    lines.append(
        f"  {shlex.quote(python)} -m pip install {' '.join(shlex.quote(s) for s in specs)}"
    )
    lines.append(
        "or choose another interpreter with --python PATH "
        "(or pass --skip-requirements-check to run anyway)"
    )
    return "\n".join(lines)
