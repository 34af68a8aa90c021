import requests

from pipec import PipelineDecorator

requests.post("http://127.0.0.1:9/runs", json={"state": "started"})


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
