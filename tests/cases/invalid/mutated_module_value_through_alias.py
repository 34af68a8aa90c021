from pipec import PipelineDecorator

LIMITS = [3, 1, 2]


@PipelineDecorator.component(return_values=["v"])
def make(x):
    return [x, 1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [5]):
    # Found by the differential tester: in Python `xs` becomes LIMITS and is extended while the
    # loop runs over LIMITS, so the loop never ends.
    for i, e in enumerate(LIMITS):
        xs.extend(xs)
        xs = LIMITS
    return make(len(xs))
