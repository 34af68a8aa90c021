from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(values: list = [3, 1, 2]):
    result = 0
    try:
        result = double(values[0])
    except* IndexError:
        print("no values")
    return result
