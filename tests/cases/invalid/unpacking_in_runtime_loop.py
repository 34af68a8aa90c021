from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x



@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(pairs: list = [(1, 2)]):
    results = []
    for left, right in pairs:
        results.append(double(left))
    return results
