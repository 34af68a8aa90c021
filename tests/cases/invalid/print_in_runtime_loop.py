from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.component(return_values=["halved"])
def halve(x: int):
    return x // 2



@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(values: list = [3, 1, 2]):
    results = []
    for value in values:
        doubled = double(value)
        print(doubled)
        results.append(doubled)
    return results
