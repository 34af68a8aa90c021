"""pipec: compile ClearML-style decorator pipelines into standalone scripts, and run them.

This package is the standard-library-only part (the runtime and the eager drop-in); the
compiler lives in `pipec.compiler` and is only imported by `pipec build` and `pipec check`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipec.eager import PipelineDecorator

__all__ = ["PipelineDecorator", "__version__"]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # `from pipec import PipelineDecorator` loads the eager drop-in on first use only, so
    # `pipec run` does not pay for it.
    if name == "PipelineDecorator":
        from pipec.eager import PipelineDecorator

        return PipelineDecorator
    raise AttributeError(f"module 'pipec' has no attribute {name!r}")
