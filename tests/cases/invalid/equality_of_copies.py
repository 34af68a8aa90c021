from pipec import PipelineDecorator


class Box:
    def __init__(self, v):
        self.v = v


@PipelineDecorator.component(return_values=["b"])
def keep(b):
    return b


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    box = Box(1)
    other = keep(box)
    print(other == box)
