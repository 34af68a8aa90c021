from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def count(x):
    return len(x)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(use_base: bool = True):
    base = [1]
    picked = [0]
    if use_base:
        picked = base
    n = count(picked)
    print(picked is base, n)
