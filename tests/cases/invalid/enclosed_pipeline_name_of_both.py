from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


def main():
    result = "not run yet"

    @PipelineDecorator.pipeline(name="cases", project="cases", version="1")
    def controller():
        result = double(3)
        print(result)

    controller()
    print(result)


if __name__ == "__main__":
    main()
