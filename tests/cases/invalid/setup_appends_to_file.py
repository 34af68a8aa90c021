from pipec import PipelineDecorator

LOG = "run.log"

# Python writes one line; each script would write one more.
with open(LOG, "a") as log:
    log.write("started\n")


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
