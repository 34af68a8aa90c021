from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    yield double(1)
