from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["total"])
def total(rows):
    return sum(rows)


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(rows: list = [1, 2]):
    grand = total(rows)
    print(sorted(locals()))
    return grand
