from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


def main():
    base = 3

    @PipelineDecorator.pipeline(name="cases", project="cases", version="1")
    def controller():
        print(double(base))

    base = 4  # the body reads this value in Python: it runs when controller() is called
    controller()


if __name__ == "__main__":
    main()
