from pipec import PipelineDecorator


@PipelineDecorator.component(return_value=["doubled"])
def double(x):
    return x * 2


@PipelineDecorator.pipeline(name="misspelled", project="tests", version="1")
def controller(x: int = 1):
    return double(x)
