from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["low", "high"])
def bounds(values: list):
    return min(values), max(values), len(values)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return bounds([1, 2])
