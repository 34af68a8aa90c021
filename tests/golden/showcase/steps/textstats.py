"""A local module beside the pipeline file: pipec copies it into the build's steps/ folder."""

import re

WORD = re.compile(r"[a-z']+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of `text`, in order."""
    return WORD.findall(text.lower())
