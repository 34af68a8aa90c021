from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def process(x):
    return x


def h(x):
    if x:
        return process(x)
    return 0


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    return h(n)
