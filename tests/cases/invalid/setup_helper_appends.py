from pipec import PipelineDecorator


def note(text):
    with open("run.log", "a") as log:
        log.write(text + "\n")


def start():
    note("started")


start()


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
