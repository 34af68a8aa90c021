from myproject.clearml_tools import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def step(x):
    return x


@PipelineDecorator.pipeline(name="p", project="p", version="1")
def controller(x: int = 1):
    return step(x)
