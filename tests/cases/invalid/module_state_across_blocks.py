import random

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return list(range(n))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    random.seed(7)
    rows = load(n)
    picked = random.choice(rows)
    return picked
