from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.component(return_values=["halved"])
def halve(x: int):
    return x // 2



@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(rows: list = [[1, 2], [3]]):
    results = []
    for row in rows:
        for value in row:
            results.append(double(value))
    return results
