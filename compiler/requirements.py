"""Requirements (used by pass 4, lowering): the packages a script needs, named as pip knows them and pinned from the build environment."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from importlib import metadata, resources
from typing import Protocol

__all__ = [
    "PROJECT_MODULE_NAMES",
    "Environment",
    "InstalledEnvironment",
    "Requirement",
    "StaticEnvironment",
    "parse_requirements_text",
    "resolve_alternatives",
    "resolve_requirements",
]

# Rows that pipreqs' mapping gets wrong or lacks (it maps sklearn to `scikit_learn`, ruamel to a
# dead `ruamel.base`, and knows nothing of cv2, skimage, fitz, ...).  Dotted keys win over bare ones.
_MAPPING_FIXES = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "attr": "attrs",
    "docx": "python-docx",
    "fitz": "PyMuPDF",
    "grpc": "grpcio",
    "nacl": "PyNaCl",
    "Bio": "biopython",
    "kafka": "kafka-python",
    "MySQLdb": "mysqlclient",
    "ruamel.yaml": "ruamel.yaml",
    "google.protobuf": "protobuf",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.bigquery": "google-cloud-bigquery",
}


# Names projects give their own modules. When one is neither local nor installed, pipreqs' mapping
# would turn it into an unrelated PyPI package (`src` -> auto_mix_prep, `models` ->
# asposestorage): it is reported instead, and never written as a requirement.
PROJECT_MODULE_NAMES = frozenset(
    {
        "app",
        "common",
        "components",
        "config",
        "configs",
        "core",
        "data",
        "helpers",
        "lib",
        "main",
        "model",
        "models",
        "modules",
        "pipeline",
        "pipelines",
        "scripts",
        "settings",
        "shared",
        "src",
        "steps",
        "tasks",
        "tools",
        "util",
        "utils",
    }
)


@dataclass(frozen=True, order=True)
class Requirement:
    distribution: str
    specifier: str  # "==1.2.3", a specifier from `packages=`, or "" when unpinned
    origin: str  # installed | mapped | guessed | declared | alternative | project (never written)
    # For an alternative: what the code imports instead when this is missing. Written as a
    # comment, and never demanded by a run: the fallback does the job.
    fallback: str = ""

    def __str__(self) -> str:
        return f"{self.distribution}{self.specifier}"


class Environment(Protocol):
    """What the build host knows about installed distributions."""

    def distributions(self, top_level: str) -> list[str]: ...

    def version(self, distribution: str) -> str | None: ...

    def provides(self, distribution: str, dotted: str) -> bool: ...

    def python_version(self) -> str | None: ...


class InstalledEnvironment:
    """The interpreter running pipec, read through importlib.metadata (nothing is imported)."""

    def python_version(self) -> str | None:
        return ".".join(str(part) for part in sys.version_info[:3])

    @functools.cached_property
    def _installed(self) -> list[tuple[str, str]]:
        """(distribution name, its top_level.txt and RECORD as text) for everything installed.

        `packages_distributions()` parses every RECORD into path objects, which costs a good
        part of a build; a substring search of the raw text answers the few names a pipeline
        imports much sooner.
        """
        found: list[tuple[str, str]] = []
        for distribution in metadata.distributions():
            declared = distribution.read_text("top_level.txt") or ""
            record = distribution.read_text("RECORD") or ""
            # The Name header from the raw text: the email parser behind .metadata is slow.
            head = distribution.read_text("METADATA") or ""
            match = re.search(r"^Name:[ \t]*(\S+)", head, re.MULTILINE)
            name = match.group(1) if match else None
            if name:
                found.append((name, "\n" + declared + "\n" + record))
        return found

    def distributions(self, top_level: str) -> list[str]:
        markers = (f"\n{top_level}\n", f"\n{top_level}/", f"\n{top_level}.py,")
        return sorted({name for name, text in self._installed if any(m in text for m in markers)})

    def version(self, distribution: str) -> str | None:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return None

    def provides(self, distribution: str, dotted: str) -> bool:
        path = dotted.replace(".", "/")
        try:
            files = metadata.distribution(distribution).files or []
        except metadata.PackageNotFoundError:
            return False
        return any(str(f).startswith((path + "/", path + ".py")) for f in files)


@dataclass(frozen=True)
class StaticEnvironment:
    """A fixed environment: top-level module -> {distribution: (version, provided dotted prefixes)}."""

    packages: Mapping[str, Mapping[str, tuple[str, tuple[str, ...]]]]
    python: str | None = None

    def python_version(self) -> str | None:
        return self.python

    def distributions(self, top_level: str) -> list[str]:
        return sorted(self.packages.get(top_level, {}))

    def version(self, distribution: str) -> str | None:
        for dists in self.packages.values():
            if distribution in dists:
                return dists[distribution][0]
        return None

    def provides(self, distribution: str, dotted: str) -> bool:
        for dists in self.packages.values():
            if distribution in dists:
                return any(
                    dotted == p or dotted.startswith(p + ".") for p in dists[distribution][1]
                )
        return False


@functools.lru_cache(maxsize=1)
def _pipreqs_mapping() -> dict[str, str]:
    # Read the data file directly: importing pipreqs.pipreqs pulls in `requests` for nothing.
    text = resources.files("pipreqs").joinpath("mapping").read_text(encoding="utf-8")
    rows = (line.strip().split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value for key, value in rows}


def _is_stdlib(top: str) -> bool:
    return top in sys.stdlib_module_names or top == "__future__"


def _by_dotted(modules: Iterable[str], top: str) -> list[str]:
    return sorted((m for m in modules if m.split(".")[0] == top), key=lambda m: -m.count("."))


def _not_installed(top: str, dotted: list[str]) -> tuple[str, str]:
    for name in dotted + [top]:
        if name in _MAPPING_FIXES:
            return _MAPPING_FIXES[name], "mapped"
    mapping = _pipreqs_mapping()
    if top in mapping:
        return mapping[top], "mapped"
    return top, "guessed"


def pin(version: str | None, mode: str = "exact") -> str:
    """The specifier an installed ``version`` becomes: ``==1.26.4`` (exact), ``>=1.26,<2``
    (compatible: this release and later ones of the same major version; ``>=0.14,<0.15`` before
    1.0, where minor releases may break), or nothing (none)."""
    if version is None or mode == "none":
        return ""
    release = re.match(r"(\d+)(?:\.(\d+))?", version)
    if mode == "exact" or release is None:
        return f"=={version}"
    major, minor = int(release.group(1)), int(release.group(2) or 0)
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def resolve_requirements(
    modules: Iterable[str],
    environment: Environment,
    local: Iterable[str] = (),
    pins: str = "exact",
) -> list[Requirement]:
    """Distributions for absolute imports, minus the standard library and local modules;
    installed versions are pinned as ``pins`` says (see :func:`pin`)."""
    modules = sorted(set(modules))
    local_names = set(local)
    found: dict[str, Requirement] = {}
    for top in sorted({m.split(".")[0] for m in modules}):
        if _is_stdlib(top) or top in local_names or not top.isidentifier():
            continue
        dotted = _by_dotted(modules, top)
        candidates = environment.distributions(top)
        chosen: list[str] = []
        if len(candidates) == 1:
            chosen = candidates
        elif len(candidates) > 1:
            # Namespace packages (google.cloud.storage): the dotted path picks the distribution.
            for path in dotted:
                chosen = [d for d in candidates if environment.provides(d, path)]
                if chosen:
                    break
            chosen = chosen[:1] or candidates[:1]
        if chosen:
            version = environment.version(chosen[0])
            requirement = Requirement(chosen[0], pin(version, pins), "installed")
        elif top in PROJECT_MODULE_NAMES:
            requirement = Requirement(top, "", "project")
        else:
            name, origin = _not_installed(top, dotted)
            requirement = Requirement(name, "", origin)
        key = _canonical(requirement.distribution)
        found.setdefault(key, requirement)
    return sorted(found.values(), key=lambda r: _canonical(r.distribution))


def resolve_alternatives(
    groups: Iterable[tuple[str, ...]],
    environment: Environment,
    local: Iterable[str] = (),
    pins: str = "exact",
) -> list[Requirement]:
    """The package to prefer for each group of modules imported as alternatives.

    Alternatives are tried in the code's order: the first that is installed here, or that
    pip knows under a mapped name, is named, with the rest as its fallback. None is named
    when the standard library or a local module comes first: the code has all it needs.
    """
    local_names = set(local)
    found: list[Requirement] = []
    for group in groups:
        for module in group:
            top = module.split(".")[0]
            if _is_stdlib(top) or top in local_names or not top.isidentifier():
                break
            fallback = ", ".join(other for other in group if other != module)
            (installed,) = resolve_requirements([module], environment, local_names, pins) or [
                Requirement(top, "", "guessed")
            ]
            if installed.origin in ("installed", "mapped"):
                found.append(replace(installed, origin="alternative", fallback=fallback))
                break
    return sorted(set(found), key=lambda r: _canonical(r.distribution))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements_text(text: str) -> tuple[list[Requirement], list[str]]:
    """Specifiers of a requirements file; lines pipec cannot honour are returned separately."""
    requirements: list[Requirement] = []
    skipped: list[str] = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            skipped.append(line)
            continue
        requirements.append(declared(line))
    return requirements, skipped


def declared(spec: str) -> Requirement:
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*(.*)$", spec)
    if match is None:
        return Requirement(spec.strip(), "", "declared")
    return Requirement(match.group(1), match.group(2).strip(), "declared")
