from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 1):
    return double(n)


if __name__ == "__main__":
    controller(m=2)
