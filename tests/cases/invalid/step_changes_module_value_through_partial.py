import functools

from pipec import PipelineDecorator

EVENTS = []


def log_event(kind, value):
    EVENTS.append((kind, value))


@PipelineDecorator.component(return_values=["b"])
def one(v):
    record = functools.partial(log_event, "one")
    record(v)
    return v + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return [one(x) for x in [1, 2]]
