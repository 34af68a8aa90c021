from case_shapes import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["sizes"])
def measure(side: float):
    # `perimeter` is defined in case_shapes, but its `__all__` lists only `area`.
    return area(side), perimeter(side)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(side: float = 2.0):
    sizes = measure(side)
    return sizes
