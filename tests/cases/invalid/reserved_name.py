from pipec import PipelineDecorator


def _pipec_load(x):
    return x - 1


@PipelineDecorator.component(return_values=["v"])
def shifted(x):
    return _pipec_load(x)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return shifted(1)
