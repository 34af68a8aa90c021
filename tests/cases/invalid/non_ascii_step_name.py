from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def maß(x):
    return x * 2


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    return maß(a)
