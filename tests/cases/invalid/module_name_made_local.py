from pipec import PipelineDecorator

SIZES = [2, 1, 3]

@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1

@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    b = one(a)
    if len(SIZES) > 2:
        print("three sizes")
    SIZES = [b]
    return SIZES
