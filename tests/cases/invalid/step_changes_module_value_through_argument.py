from pipec import PipelineDecorator

REPORT = {"rows": []}


def add_row(rows, row):
    rows.append(row)


@PipelineDecorator.component(return_values=["b"])
def one(v):
    rows = REPORT["rows"]
    add_row(rows, v)
    return v + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    n = one(1)
    print(REPORT)
    return n
