"""Run one ``pipec`` command in this process and record its peak memory.

    python pipec_probe.py REPORT.json ARGS...

Does what the ``pipec`` console script does (call ``pipec.compiler.cli.main``), then
writes ``{"exit_code", "self_kib", "children_kib"}`` to REPORT.json: the peak RSS of
the pipec process itself and of the largest step process it ran.
"""

from __future__ import annotations

import json
import resource
import sys

from pipec.compiler.cli import main


def probe(report: str, argv: list[str]) -> int:
    # As the console script calls it: arguments from sys.argv, so that main() acts as the
    # program it is (see pipec.compiler.cli.main), not as a caller's function.
    sys.argv = ["pipec", *argv]
    code: int = main()
    usage = {
        "exit_code": code,
        "self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    with open(report, "w", encoding="utf-8") as file:
        json.dump(usage, file)
    return code


if __name__ == "__main__":
    raise SystemExit(probe(sys.argv[1], sys.argv[2:]))
