from pipec import PipelineDecorator

@PipelineDecorator.component(return_values=["v"])
def total(xs):
    return sum(xs)

@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    xs = [a, 2]
    total = total(xs)
    print(total)
    return total
