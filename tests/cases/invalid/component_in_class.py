from pipec import PipelineDecorator


class Steps:
    @PipelineDecorator.component(return_values=["doubled"])
    def double(self, x: int):
        return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(n: int = 3):
    return n
