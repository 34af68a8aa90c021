from pipec import PipelineDecorator

# Python writes this line once; the scripts leave module-level prints out.
with open("run.log", "a") as log:
    print("started", file=log)


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
