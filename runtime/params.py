"""Pipeline parameters from ``--param NAME=VALUE``, typed by the manifest.

A parameter's type comes from its annotation's source text (``int``, ``list[str]``,
``Optional[float]``, ``dict[str, int]``, ``str | None`` ...), else from its default's type.
Values are Python literals read with :func:`ast.literal_eval`; a parameter that accepts
``str`` also takes bare text (``--param url=file:///data.pkl``).  Nothing is evaluated.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipec.manifest import Parameter
from pipec.value_methods import ValueMethods

__all__ = ["ParameterError", "TypeSpec", "parse_annotation", "resolve_parameters"]


class ParameterError(ValueError):
    """Bad ``--param`` values; the message lists each problem and how to fix it."""


@dataclass(frozen=True, eq=False, repr=False)
class TypeSpec(ValueMethods):
    """A parameter type: ``origin`` is a builtin type name, ``any``, ``none`` or ``union``."""

    origin: str
    args: tuple[TypeSpec, ...] = ()
    variadic: bool = False  # tuple[int, ...]

    def describe(self) -> str:
        if self.origin == "union":
            return " | ".join(arg.describe() for arg in self.args)
        if self.origin == "none":
            return "None"
        if not self.args:
            return self.origin
        inner = ", ".join(arg.describe() for arg in self.args) + (", ..." if self.variadic else "")
        return f"{self.origin}[{inner}]"


ANY = TypeSpec("any")
_NONE = TypeSpec("none")
_ALIASES = {
    "int": "int",
    "float": "float",
    "str": "str",
    "bool": "bool",
    "bytes": "bytes",
    "complex": "complex",
    "list": "list",
    "List": "list",
    "Sequence": "list",
    "MutableSequence": "list",
    "Iterable": "list",
    "Collection": "list",
    "dict": "dict",
    "Dict": "dict",
    "Mapping": "dict",
    "MutableMapping": "dict",
    "tuple": "tuple",
    "Tuple": "tuple",
    "set": "set",
    "Set": "set",
    "frozenset": "frozenset",
    "FrozenSet": "frozenset",
    "Any": "any",
    "object": "any",
    "None": "none",
    "NoneType": "none",
}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (float, int),
    "str": (str,),
    "bool": (bool,),
    "bytes": (bytes,),
    "complex": (complex, float, int),
    "list": (list, tuple),
    "dict": (dict,),
    "tuple": (tuple, list),
    "set": (set, frozenset),
    "frozenset": (frozenset, set),
}
_TRUTH = {"true": True, "false": False}


def parse_annotation(text: str | None) -> TypeSpec | None:
    """The type an annotation's source text names, or None when it names nothing known."""
    if not text:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    return _spec(tree)


def _spec(node: ast.expr) -> TypeSpec | None:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return _NONE
        return parse_annotation(node.value) if isinstance(node.value, str) else None
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = node.id if isinstance(node, ast.Name) else node.attr
        origin = _ALIASES.get(name)
        return TypeSpec(origin) if origin else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _spec(node.left), _spec(node.right)
        return _union([left, right]) if left and right else None
    if isinstance(node, ast.Subscript):
        return _subscript(node)
    return None


def _subscript(node: ast.Subscript) -> TypeSpec | None:
    head = node.value.id if isinstance(node.value, ast.Name) else getattr(node.value, "attr", "")
    items = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if head == "Optional" and len(items) == 1:
        inner = _spec(items[0])
        return _union([inner, _NONE]) if inner else None
    if head == "Union":
        members = [_spec(item) for item in items]
        return _union(members) if all(members) else None
    if head in ("Literal", "Annotated"):
        return ANY if head == "Literal" else _spec(items[0])
    origin = _ALIASES.get(head)
    if origin is None:
        return None
    variadic = len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis
    args = [_spec(item) or ANY for item in (items[:1] if variadic else items)]
    return TypeSpec(origin, tuple(args), variadic)


def _union(members: Sequence[TypeSpec | None]) -> TypeSpec:
    flat: list[TypeSpec] = []
    for member in members:
        assert member is not None
        flat += member.args if member.origin == "union" else [member]
    return TypeSpec("union", tuple(flat))


def conforms(value: object, spec: TypeSpec) -> bool:
    """Whether a literal value fits the type."""
    if spec.origin == "any":
        return True
    if spec.origin == "none":
        return value is None
    if spec.origin == "union":
        return any(conforms(value, member) for member in spec.args)
    if isinstance(value, bool) and spec.origin != "bool":
        return False
    if not isinstance(value, _PYTHON_TYPES.get(spec.origin, ())):
        return False
    if not spec.args:
        return True
    if isinstance(value, dict):
        key_spec, value_spec = (spec.args + (ANY, ANY))[:2]
        return all(conforms(k, key_spec) and conforms(v, value_spec) for k, v in value.items())
    assert isinstance(value, (list, tuple, set, frozenset))
    if spec.origin == "tuple" and not spec.variadic:
        return len(value) == len(spec.args) and all(map(conforms, value, spec.args))
    return all(conforms(item, spec.args[0]) for item in value)


def _accepts_text(spec: TypeSpec) -> bool:
    return spec.origin in ("str", "any") or any(
        _accepts_text(m) for m in spec.args if spec.origin == "union"
    )


def _accepts_bool(spec: TypeSpec) -> bool:
    return spec.origin == "bool" or any(
        _accepts_bool(m) for m in spec.args if spec.origin == "union"
    )


def parameter_type(param: Parameter) -> TypeSpec:
    """The declared type, else the default's type, else anything."""
    spec = parse_annotation(param.annotation)
    if spec is not None:
        return spec
    if param.default is not None and param.default.value is not None:
        name = type(param.default.value).__name__
        return TypeSpec(name) if name in _PYTHON_TYPES else ANY
    return ANY


def parse_value(text: str, spec: TypeSpec) -> object:
    """Read one ``--param`` value for a parameter of type ``spec``; raise ValueError with a hint."""
    try:
        value: object = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if _accepts_text(spec):
            return text
        if _accepts_bool(spec) and text.strip().lower() in _TRUTH:
            return _TRUTH[text.strip().lower()]
        raise ValueError(f"{text!r} is not a Python literal") from None
    if conforms(value, spec):
        if spec.origin == "float" and isinstance(value, int):
            return float(value)
        return value
    if _accepts_text(spec):
        return text
    raise ValueError(f"{text!r} is a {type(value).__name__}")


def resolve_parameters(declared: Sequence[Parameter], given: Sequence[str]) -> dict[str, object]:
    """The run's parameter values: ``given`` (``NAME=VALUE``) over the manifest defaults."""
    by_name = {param.name: param for param in declared}
    problems: list[str] = []
    values: dict[str, object] = {}
    seen: set[str] = set()
    for item in given:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(f"--param {item!r}: write NAME=VALUE, for example --param n=12")
            continue
        param = by_name.get(name)
        if param is None:
            known = ", ".join(sorted(by_name)) or "none"
            problems.append(
                f"--param {name}: the pipeline has no parameter {name!r} (it has: {known})"
            )
            continue
        if name in seen:
            problems.append(f"--param {name}: given more than once; keep one")
            continue
        seen.add(name)
        spec = parameter_type(param)
        try:
            values[name] = parse_value(text, spec)
        except ValueError as exc:
            problems.append(
                f"--param {name}={text}: {exc}, but {name!r} takes {spec.describe()}; "
                f"write a Python literal, for example {_example(name, spec)}"
            )
    for param in declared:
        if param.name in seen:
            continue
        if param.required:
            problems.append(
                f"parameter {param.name!r} is required: pass --param {param.name}=VALUE"
            )
        else:
            values[param.name] = None if param.default is None else param.default.value
    if problems:
        raise ParameterError("\n".join(problems))
    return {param.name: values[param.name] for param in declared if param.name in values}


def _example(name: str, spec: TypeSpec) -> str:
    samples: Mapping[str, str] = {
        "int": "12",
        "float": "0.5",
        "bool": "True",
        "str": "text",
        "bytes": "b'raw'",
        "list": "'[1, 2]'",
        "tuple": "'(1, 2)'",
        "dict": "'{\"key\": 1}'",
        "set": "'{1, 2}'",
    }
    origin = spec.args[0].origin if spec.origin == "union" and spec.args else spec.origin
    if origin == "list" and spec.args and spec.args[0].origin == "str":
        return f'--param {name}=\'["a", "b"]\''
    return f"--param {name}={samples.get(origin, 'VALUE')}"
