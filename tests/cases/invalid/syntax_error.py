from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="broken", project="cases", version="1")
def broken(n: int = 3):
    y = double(n
    return y
