from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def prepare(n: int):
    return list(range(n))


@PipelineDecorator.component(return_values=["model"], parents=["prepare"])
def train(n: int):
    return n * 2


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    prepare(n)
    return train(n)


@PipelineDecorator.pipeline(name="cases", project="cases", version="2")
def controller(n: int = 3):
    return train(n)


if __name__ == "__main__":
    controller()
