from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"], retry_on_failure=-1)
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return double(1)
