import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["scaled"])
def scale(x: int):
    return x * FACTOR


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return scale(2)


if __name__ == "__main__":
    FACTOR = int(sys.argv[1])
    controller()
