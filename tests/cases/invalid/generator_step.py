from pipec import PipelineDecorator

@PipelineDecorator.component(return_values=["v"])
def gen(n):
    for i in range(n):
        yield i

@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    v = gen(n)
    print(list(v))
