from pipec import PipelineDecorator

TOTALS = {}


def _bump(key, by):
    TOTALS[key] = TOTALS.get(key, 0) + by


def tally(key):
    _bump(key, 1)


def total(key):
    return TOTALS.get(key, 0)


@PipelineDecorator.component(return_values=["b"])
def one(v):
    tally("one")
    return v + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    n = one(1)
    print(total("one"))
    return n
