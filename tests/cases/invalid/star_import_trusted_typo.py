from math import *

from jinja2 import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["length"])
def norm(values: list):
    # `sqroot` is no name of `math`; only `jinja2`, which pipec does not read, could define it.
    return sqroot(fsum(v * v for v in values))


@PipelineDecorator.component(return_values=["a", "b"])
def halves(length: float):
    # An error beside the warning, so that this case is refused and its snapshot kept.
    return length, length, length


@PipelineDecorator.pipeline(name="trusted", project="tests", version="1")
def controller(values: list = [3.0, 4.0]):
    length = norm(values)
    text = Markup(f"{length}")
    return flor(length), text, halves(length)
