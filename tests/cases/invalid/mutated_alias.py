from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def make(x):
    return [x, 1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    lst = make(a)
    other = lst
    other += [3]
    print(other, lst)
    return lst
