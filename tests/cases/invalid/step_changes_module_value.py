from pipec import PipelineDecorator

HISTORY = []


@PipelineDecorator.component(return_values=["seen"])
def record(x):
    HISTORY.append(x)
    return len(HISTORY)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    first = record(1)
    return record(first)
