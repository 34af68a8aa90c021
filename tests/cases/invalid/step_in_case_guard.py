from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(values: list = [3, 1, 2]):
    match values:
        case [first, *_] if double(first) > 2:
            return first
    return 0
