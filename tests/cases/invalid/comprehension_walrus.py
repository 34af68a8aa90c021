from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return list(range(n))


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 4):
    last = 0
    rows = load(n)
    big = [last for row in rows if (last := row * row) > 1]
    return big, last
