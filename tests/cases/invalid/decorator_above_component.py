import functools

from pipec import PipelineDecorator


@functools.lru_cache(maxsize=None)
@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return double(1) + double(1)
