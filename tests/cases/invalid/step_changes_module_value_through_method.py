from pipec import PipelineDecorator


class Cache:
    def __init__(self):
        self.entries = {}

    def put(self, key, value):
        self.entries[key] = value


CACHE = Cache()


@PipelineDecorator.component(return_values=["b"])
def square(v):
    CACHE.put(v, v * v)
    return v * v


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    a = square(2)
    return square(a)
