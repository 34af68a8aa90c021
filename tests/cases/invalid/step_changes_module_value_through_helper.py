from pipec import PipelineDecorator

SEEN = []


def note(v):
    SEEN.append(v)


@PipelineDecorator.component(return_values=["b"])
def one(v):
    note(v)
    return v + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    n = one(1)
    print(SEEN, n)
    return n
