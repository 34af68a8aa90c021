from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return list(range(n))


@PipelineDecorator.component(return_values=["total"])
def total(rows):
    return sum(rows)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 4):
    rows = load(n)
    scaled = (row * 10 for row in rows)
    first = next(scaled)
    grand = total(rows)
    return first, grand, list(scaled)
