import time

from clearml.automation.controller import PipelineDecorator


def timed(function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        result = function(*args, **kwargs)
        print(f"took {time.perf_counter() - start:.1f}s")
        return result

    return wrapper


@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@timed
@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return double(1)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    controller()
