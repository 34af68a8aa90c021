from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["ratio"])
def ratio(x):
    return 10 // x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return any(ratio(x) > 2 for x in [1, 0])
