from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["files"])
def listing(n):
    return list(range(n + 2))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    files = listing(n)
    d = {"a": 1, "b": files}
    d.pop("a")
    x = listing(1)
    files.pop(0)
    print(d, x)
    return d
