import os

from pipec import PipelineDecorator

OUT = "outputs"
# The second script would fail: the folder is there.
os.makedirs(OUT)


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
