from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x
