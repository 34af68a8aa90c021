from pipec import PipelineDecorator


class Registry:
    names = []

    @classmethod
    def register(cls, name):
        cls.names.append(name)


@PipelineDecorator.component(return_values=["b"])
def one(name):
    registry = Registry
    registry.register(name)
    return name.upper()


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    b = one("x")
    print(len(Registry.names))
    return b
