"""What ``pipec run`` shows in the terminal.

Standard output carries only the controller's own printing (the stdout of glue nodes
with ``effects``), byte for byte, so it matches a plain-Python run of the pipeline file.
Everything else goes to standard error: step output prefixed with the node's name, and
pipec's own status lines.
"""

from __future__ import annotations

import sys
import threading
from typing import BinaryIO, TextIO

from pipec.executor import StepTask, Stream

__all__ = ["Console"]


class Console:
    def __init__(self, stdout: BinaryIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdout = stdout if stdout is not None else sys.stdout.buffer
        self._stderr = stderr if stderr is not None else sys.stderr
        self._lock = threading.Lock()

    def step_output(self, task: StepTask, stream: Stream, chunk: bytes) -> None:
        """An :class:`~pipec.executor.OutputSink` that streams steps live."""
        with self._lock:
            if task.effects and stream is Stream.STDOUT:
                self._stdout.write(chunk)
                self._stdout.flush()
                return
            text = chunk.decode("utf-8", errors="replace")
            if not text.endswith("\n"):
                text += "\n"
            self._stderr.write(f"[{task.node}] {text}")
            self._stderr.flush()

    def replay(self, printed: bytes) -> None:
        """What a cached effects node printed when it ran, as the controller's output."""
        with self._lock:
            self._stdout.write(printed)
            self._stdout.flush()

    def status(self, message: str) -> None:
        """One of pipec's own lines."""
        with self._lock:
            self._stderr.write(f"pipec: {message}\n")
            self._stderr.flush()

    def block(self, text: str) -> None:
        """Several lines as they are (a log excerpt, a report)."""
        with self._lock:
            self._stderr.write(text if text.endswith("\n") else text + "\n")
            self._stderr.flush()
