from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["squares"])
def squares(n):
    if n < 0:
        return []
    return (i * i for i in range(n))


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return sum(squares(3))
