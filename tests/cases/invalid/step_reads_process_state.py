import numpy as np

from pipec import PipelineDecorator

np.random.seed(42)


@PipelineDecorator.component(return_values=["rows"])
def sample(n: int):
    return np.random.permutation(n).tolist()


@PipelineDecorator.component(return_values=["noise"])
def add_noise(rows: list):
    return [r + np.random.normal() for r in rows]


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 10):
    rows = sample(n)
    return add_noise(rows)


if __name__ == "__main__":
    controller()
