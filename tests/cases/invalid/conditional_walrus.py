from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    if n > 1 and (k := n * 2) > 4:
        return double(k)
    return 0
