from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["y"])
def parse(text):
    try:
        return int(text)
    except ValueError, TypeError:
        return 0


@PipelineDecorator.pipeline(name="newer", project="tests", version="1")
def controller(text: str = "1"):
    return parse(text)
