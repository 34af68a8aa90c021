import shutil

from pipec import PipelineDecorator

OUT = "outputs"
# A later script would delete what the earlier steps wrote there.
shutil.rmtree(OUT, ignore_errors=True)


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
