from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x



@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(pairs: list = [(1, 2)]):
    results = []
    last = {}
    for last["pair"] in pairs:
        results.append(double(len(last)))
    return results
