from pipec import PipelineDecorator


def make_names():
    return ["doubled"]


@PipelineDecorator.component(return_values=make_names())
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    return double(n)
