from pipec import PipelineDecorator


def make_step():
    @PipelineDecorator.component(return_values=["doubled"])
    def double(x: int):
        return 2 * x

    return double


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    return n
