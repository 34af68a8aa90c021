from pipec import PipelineDecorator

SIZES = [3, 1, 2]


@PipelineDecorator.component(return_values=["v"])
def make(x):
    return [x, 1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    SIZES.sort()
    return [make(size) for size in SIZES]
