"""pipec: compile ClearML-style decorator pipelines into standalone scripts, and run them.

This package is the standard-library-only part (the runtime and the eager drop-in); the
compiler lives in `pipec.compiler` and is only imported by `pipec build` and `pipec check`.
"""

from pipec.eager import PipelineDecorator

__all__ = ["PipelineDecorator", "__version__"]

__version__ = "0.1.0"
