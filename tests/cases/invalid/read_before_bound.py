from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["total"])
def add(x: int, y: int):
    return x + y


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(start: int = START):
    return add(start, 1)


START = 10

if __name__ == "__main__":
    controller()
