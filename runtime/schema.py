"""A small JSON Schema checker for the keywords the manifest schema uses.

The runtime is standard library only, so it cannot use ``jsonschema``; it reads the
shipped ``manifest.schema.json`` with this checker instead, so that the schema file
stays the one statement of the contract.  Supported keywords: ``type``, ``const``,
``enum``, ``required``, ``properties``, ``additionalProperties``, ``propertyNames``,
``items``, ``pattern``, ``minimum``, ``oneOf`` and local ``$ref``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["load_manifest_schema", "schema_errors"]

_SCHEMA_NAME = "manifest.schema.json"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


def load_manifest_schema() -> dict[str, object]:
    """The manifest schema shipped beside this module."""
    try:
        # Read as a file where it is one: importlib.resources costs `pipec run` about a third
        # of an interpreter's start in imports (its zip reader and zipfile).
        text = Path(__file__).with_name(_SCHEMA_NAME).read_text(encoding="utf-8")
    except OSError:  # pipec installed as a zip, say
        from importlib import resources

        text = resources.files("pipec").joinpath(_SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, object] = json.loads(text)
    return schema


def schema_errors(instance: object, schema: Mapping[str, object]) -> list[str]:
    """Every violation of ``schema`` by ``instance``, each as ``path: message``."""
    errors: list[str] = []
    _check(instance, schema, schema, "manifest", errors)
    return errors


def _check(
    value: object,
    rule: Mapping[str, object],
    root: Mapping[str, object],
    path: str,
    errors: list[str],
) -> None:
    ref = rule.get("$ref")
    if isinstance(ref, str):
        _check(value, _resolve(ref, root), root, path, errors)
        return
    before = len(errors)
    _check_scalar_rules(value, rule, path, errors)
    if len(errors) > before:
        return
    one_of = rule.get("oneOf")
    if isinstance(one_of, list):
        matches = [alt for alt in one_of if not _quiet_errors(value, alt, root)]
        if len(matches) != 1:
            what = rule.get("description") or " | ".join(_describe(alt, root) for alt in one_of)
            errors.append(f"{path}: expected {what}, got {_short(value)}")
        return
    if isinstance(value, dict):
        _check_object(value, rule, root, path, errors)
    elif isinstance(value, list) and isinstance(rule.get("items"), Mapping):
        items = rule["items"]
        assert isinstance(items, Mapping)
        for index, item in enumerate(value):
            _check(item, items, root, f"{path}[{index}]", errors)


def _check_scalar_rules(
    value: object, rule: Mapping[str, object], path: str, errors: list[str]
) -> None:
    if "const" in rule and not _same(value, rule["const"]):
        errors.append(f"{path}: must be {json.dumps(rule['const'])}, got {_short(value)}")
        return
    enum = rule.get("enum")
    if isinstance(enum, list) and not any(_same(value, option) for option in enum):
        errors.append(
            f"{path}: must be one of {', '.join(json.dumps(o) for o in enum)}, got {_short(value)}"
        )
        return
    wanted = rule.get("type")
    if wanted is not None:
        names = (
            [wanted]
            if isinstance(wanted, str)
            else list(wanted)
            if isinstance(wanted, list)
            else []
        )
        if not any(_is_type(value, str(name)) for name in names):
            errors.append(f"{path}: must be {' or '.join(map(str, names))}, got {_short(value)}")
            return
    pattern = rule.get("pattern")
    if isinstance(pattern, str) and isinstance(value, str) and not re.search(pattern, value):
        what = rule.get("description")
        errors.append(
            f"{path}: {value!r} does not match {pattern}" + (f" ({what})" if what else "")
        )
    minimum = rule.get("minimum")
    if isinstance(minimum, (int, float)) and _is_type(value, "number"):
        assert isinstance(value, (int, float))
        if value < minimum:
            errors.append(f"{path}: must be at least {minimum}, got {value}")


def _check_object(
    value: dict[object, object],
    rule: Mapping[str, object],
    root: Mapping[str, object],
    path: str,
    errors: list[str],
) -> None:
    required = rule.get("required")
    for key in required if isinstance(required, list) else []:
        if key not in value:
            errors.append(f"{path}: missing required field {key!r}")
    properties = rule.get("properties")
    props: Mapping[str, object] = properties if isinstance(properties, Mapping) else {}
    extra = rule.get("additionalProperties", True)
    names = rule.get("propertyNames")
    for key, item in value.items():
        if isinstance(names, Mapping):
            _check(key, names, root, f"{path} key {key!r}", errors)
        sub = props.get(str(key))
        if isinstance(sub, Mapping):
            _check(item, sub, root, f"{path}.{key}", errors)
        elif extra is False:
            errors.append(f"{path}: unknown field {key!r}")
        elif isinstance(extra, Mapping):
            _check(item, extra, root, f"{path}.{key}", errors)


def _quiet_errors(value: object, rule: object, root: Mapping[str, object]) -> list[str]:
    errors: list[str] = []
    if isinstance(rule, Mapping):
        _check(value, rule, root, "", errors)
    return errors


def _resolve(ref: str, root: Mapping[str, object]) -> Mapping[str, object]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: object = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"dangling $ref {ref!r}")
        node = node[part]
    if not isinstance(node, Mapping):
        raise ValueError(f"$ref {ref!r} is not a schema")
    return node


def _describe(rule: object, root: Mapping[str, object]) -> str:
    if isinstance(rule, Mapping):
        ref = rule.get("$ref")
        if isinstance(ref, str):
            return ref.rsplit("/", 1)[-1]
        required = rule.get("required")
        if isinstance(required, list) and required:
            return "{" + ", ".join(f'"{key}": ...' for key in required) + "}"
        if isinstance(rule.get("type"), str):
            return str(rule["type"])
    return "a schema alternative"


def _is_type(value: object, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _JSON_TYPES.get(name, ()))


def _same(left: object, right: object) -> bool:
    return type(left) is type(right) and left == right


def _short(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
