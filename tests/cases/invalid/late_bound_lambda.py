from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def apply(fn, x):
    return fn(x)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(k: int = 3):
    scale = lambda v: v * k
    k = k + 10
    return apply(scale, 4)
