from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["loaded"])
def load(name: str):
    return {"name": name, "last": name.endswith("!")}


@PipelineDecorator.component(return_values=["trained"])
def train(data: dict):
    return data["name"].upper()


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(files: list = ["a", "b!", "c"]):
    results = []
    for name in files:
        data = load(name)
        if data["last"]:
            break
        results.append(train(data))
    return results
