"""What reaches a step besides its own body: module helpers, constants, a class, a decorator, a local module.

Each step script pipec writes holds exactly the module code its step uses, in source order:
`clean` gets `tokenize` (from the local module textstats.py), `keep`, `STOPWORDS`, `MIN_LENGTH`
and the `logged` decorator; `count` gets the `WordCounts` class, whose instances are pickled
with the class inside them, so `summarise` can use one without having the class in its script.

    python examples/showcase/pipeline.py            # plain Python
    pipec build examples/showcase/pipeline.py && pipec run build/showcase
"""

import functools
import statistics

from textstats import tokenize

from pipec import PipelineDecorator

STOPWORDS = frozenset({"the", "a", "an", "of", "and", "to", "in", "is", "it"})
MIN_LENGTH = 3
SAMPLE = (
    "The pipeline compiles the controller into a graph. Each step of the graph is a script, "
    "and each script is plain Python: a step reads its inputs, runs, and writes its outputs."
)


def logged(function):
    """Say which step runs (a decorator of the user's own, stacked under the component's)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        print(f"running {function.__name__}")
        return function(*args, **kwargs)

    return wrapper


class WordCounts:
    """How often each word occurs: made by one step, read by the next."""

    def __init__(self, counts):
        self.counts = dict(counts)

    def top(self, n):
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def __repr__(self):
        return f"WordCounts({len(self.counts)} distinct words)"


def keep(word):
    return len(word) >= MIN_LENGTH and word not in STOPWORDS


@PipelineDecorator.component(return_values=["words"])
@logged
def clean(text: str):
    return [word for word in tokenize(text) if keep(word)]


@PipelineDecorator.component(return_values=["counts"], cache=True)
def count(words):
    tally = {}
    for word in words:
        tally[word] = tally.get(word, 0) + 1
    return WordCounts(tally)


@PipelineDecorator.component(return_values=["summary"])
def summarise(counts, n: int = 3):
    lengths = [len(word) for word in counts.counts]
    return {"top": counts.top(n), "mean_length": round(statistics.mean(lengths), 2)}


@PipelineDecorator.pipeline(name="showcase", project="examples", version="1.0.0")
def word_pipeline(text: str = SAMPLE, n: int = 3):
    words = clean(text)
    counts = count(words)
    print(f"counted: {counts!r}")
    summary = summarise(counts, n=n)
    print(f"top {n}: {summary['top']}")
    print(f"mean word length: {summary['mean_length']}")
    return summary


if __name__ == "__main__":
    word_pipeline()
