from pipec import PipelineDecorator

COUNT = 0


@PipelineDecorator.component(return_values=["total"])
def bump(x):
    global COUNT
    COUNT += x
    return COUNT


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    first = bump(1)
    return bump(first)
