import subprocess

from pipec import PipelineDecorator

subprocess.run(["git", "tag", "run"], check=True)


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
