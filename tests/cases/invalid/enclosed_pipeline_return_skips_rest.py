from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


def main():
    @PipelineDecorator.pipeline(name="cases", project="cases", version="1")
    def controller():
        doubled = double(3)
        return doubled

    controller()
    print("after the pipeline")


if __name__ == "__main__":
    main()
