from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["a", "a"])
def pair(x: int):
    return x, x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return pair(1)
