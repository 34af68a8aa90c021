"""Kubeflow's local runner on the benchmark's no-op chain (optional; needs ``kfp``).

    python kfp_chain.py STEPS PIPELINE_ROOT

Builds a chain of STEPS no-op lightweight components, each fed the previous one's
output, and runs it with ``kfp.local`` in subprocess mode without a virtualenv per task,
the fastest local mode kfp offers.  Run it with an interpreter that has kfp installed.

No ``from __future__ import annotations`` here: kfp reads the components' annotations as
types, and strings would make it reject them.
"""

import sys

from kfp import dsl, local  # type: ignore[import-not-found, unused-ignore]


def _step(x: int) -> int:
    return x


# Applied as calls, not with @: kfp ships no type information, and a decorator from an
# untyped package would leave the function untyped.
step = dsl.component(_step)


def chain(steps: int) -> object:
    """A pipeline whose STEPS tasks each take the previous task's output."""

    def body(seed: int = 0) -> None:
        task = step(x=seed)
        for _ in range(steps - 1):
            task = step(x=task.output)

    return dsl.pipeline(name=f"chain-{steps}")(body)


def main(argv: list[str]) -> int:
    steps, root = int(argv[0]), argv[1]
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root)
    pipeline = chain(steps)
    pipeline(seed=0)  # type: ignore[operator]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
