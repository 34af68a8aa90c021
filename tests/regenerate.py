"""Rewrite every golden file: the build tree of each example and the diagnostics of each invalid case.

python tests/regenerate.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from golden_build import (  # noqa: E402  (the tests folder is not a package)
    GOLDEN,
    INVALID,
    RULES_DOCUMENT,
    build_example,
    check_invalid,
    example_names,
    invalid_case_names,
    invalid_here,
    rules_document,
    write_tree,
)


def main() -> None:
    names = example_names()
    for stale in sorted(GOLDEN.glob("*")):
        if stale.is_dir() and stale.name not in names:
            shutil.rmtree(stale)
    for name in names:
        target = GOLDEN / name
        if target.exists():
            shutil.rmtree(target)
        write_tree(build_example(name).files, target)
        print(f"wrote {target.relative_to(GOLDEN.parent.parent)}")
    for orphan in sorted(INVALID.glob("*.txt")):
        if not orphan.with_suffix(".py").exists():
            orphan.unlink()
    for name in filter(invalid_here, invalid_case_names()):
        _, stderr = check_invalid(name)
        snapshot = INVALID / f"{name}.txt"
        snapshot.write_text(stderr, encoding="utf-8")
        print(f"wrote {snapshot.relative_to(GOLDEN.parent.parent)}")
    RULES_DOCUMENT.write_text(rules_document(), encoding="utf-8")
    print(f"wrote {RULES_DOCUMENT.relative_to(GOLDEN.parent.parent)}")


if __name__ == "__main__":
    main()
