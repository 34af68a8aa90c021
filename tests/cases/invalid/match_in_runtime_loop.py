from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(values: list = [3, 1, 2]):
    results = []
    for value in values:
        match value:
            case 1:
                results.append(double(value))
    return results
