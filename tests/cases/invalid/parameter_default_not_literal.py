import os

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.component(return_values=["low", "high", "mid", "spread"])
def stats(values, scale: float = 1.0):
    return min(values), max(values), sorted(values)[len(values) // 2], scale


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = int(os.getenv("N", "3"))):
    return double(n)
