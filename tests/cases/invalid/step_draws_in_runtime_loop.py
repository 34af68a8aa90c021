import random

from pipec import PipelineDecorator

random.seed(7)


@PipelineDecorator.component(return_values=["files"])
def listing(n: int):
    return [f"part-{i}.csv" for i in range(n)]


@PipelineDecorator.component(return_values=["picked"])
def pick(name: str):
    return random.random() < 0.5


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 4):
    files = listing(n)
    return [pick(f) for f in files]


if __name__ == "__main__":
    controller()
