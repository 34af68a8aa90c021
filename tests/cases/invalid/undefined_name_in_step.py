from pipec import PipelineDecorator

THRESHOLD = 0.5


def keep(values):
    return [v for v in values if v > THRESHOLD]


@PipelineDecorator.component(return_values=["kept"])
def clean(values):
    return keep(value)


@PipelineDecorator.pipeline(name="undefined", project="tests", version="1")
def controller(values: list = [0.1, 0.9]):
    return clean(values)
