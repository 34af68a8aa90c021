from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["n"])
def count(x):
    return len(x)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    rows = [1, 2]
    first = id(rows)
    n = count(rows)
    print(id(rows) == first, n)
