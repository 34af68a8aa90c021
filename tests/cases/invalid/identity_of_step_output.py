from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def tidy(rows):
    rows.sort()
    return rows


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(rows: list = [3, 1, 2]):
    kept = tidy(rows)
    if kept is rows:
        print("sorted in place")
