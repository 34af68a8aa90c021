from math import *

from pipec import PipelineDecorator


def spread(values):
    # `math` exports `sqrt`, `pi` and `fsum`: its star import defines them, not `sqroot`.
    return sqroot(fsum(v * v for v in values)) * pi


@PipelineDecorator.component(return_values=["spread"])
def measure(values):
    return spread(values)


@PipelineDecorator.pipeline(name="undefined", project="tests", version="1")
def controller(values: list = [3.0, 4.0]):
    return measure(values)
