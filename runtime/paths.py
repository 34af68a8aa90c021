"""Paths made from names that a build or a run record supplies, kept under their root.

A manifest, a run record or a cache entry comes from disk and may have been written by
someone else; the names in it (nodes, outputs, arguments, scripts) become parts of paths.
Every such path is built with :func:`inside`, which refuses one that would leave its root,
through ``..``, an absolute name or a symbolic link.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

__all__ = ["PathEscape", "inside", "is_inside", "unsafe_component"]

# Characters a name that becomes one path component (or one `NAME=VALUE` argument of a
# step script) cannot hold.
_FORBIDDEN = ("/", "\\", "\0", "=")


class PathEscape(ValueError):
    """A name that would make a path outside its root."""


def unsafe_component(name: str) -> str | None:
    """Why ``name`` cannot be one path component (and one ``NAME=`` argument); None if it can."""
    if name in ("", ".", ".."):
        return "is empty, '.' or '..'"
    for char in _FORBIDDEN:
        if char in name:
            return f"holds {char!r}"
    return None


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refused (:class:`PathEscape`) unless it stays under ``root`` once
    ``..`` and symbolic links are resolved."""
    if "\0" in relative:
        raise PathEscape(f"{relative!r} holds a NUL character")
    parts = PurePosixPath(relative)
    if parts.is_absolute() or ".." in parts.parts or "\\" in relative:
        raise PathEscape(f"{relative!r} is not a relative path inside {root}")
    path = root / parts
    if not is_inside(root, path):
        raise PathEscape(f"{relative!r} leads outside {root} (through a symbolic link)")
    return path


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, symbolic links resolved, lies under ``root`` (resolved too)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop, an unreadable folder
        return False
