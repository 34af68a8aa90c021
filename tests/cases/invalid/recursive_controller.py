from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.component(return_values=["halved"])
def halve(x: int):
    return x // 2



@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    if n > 100:
        return n
    return controller(double(n))
