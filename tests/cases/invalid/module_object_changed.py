import os

from pipec import PipelineDecorator


class Config:
    lr = 0.01


@PipelineDecorator.component(return_values=["v"])
def train(x):
    return x * Config.lr, os.environ.get("MODE", "unset")


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    Config.lr = 0.5
    return train(a)
