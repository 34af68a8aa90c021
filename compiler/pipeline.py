"""What the pipeline decorator and the `__main__` block say about the pipeline as a whole."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipec.compiler.analyse import OptionValue

__all__ = ["ParameterInfo", "PipelineInfo"]


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
