from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.component(return_values=["halved"])
def halve(x: int):
    return x // 2



def make_controller():
    @PipelineDecorator.pipeline(name="cases", project="cases", version="1")
    def controller(n: int = 3):
        return double(n)

    return controller
