from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


def main():
    for base in [1, 2]:

        @PipelineDecorator.pipeline(name="cases", project="cases", version="1")
        def controller():
            print(double(base))

        controller()


if __name__ == "__main__":
    main()
