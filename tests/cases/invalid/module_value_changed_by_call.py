from pipec import PipelineDecorator

CONFIG = {"lr": 0.01}


def set_lr(value):
    settings = CONFIG
    settings["lr"] = value


@PipelineDecorator.component(return_values=["v"])
def train(x):
    return x * CONFIG["lr"]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    set_lr(0.5)
    return train(a)
