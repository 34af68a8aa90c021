from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["loaded"])
def load(name: str):
    return {"name": name, "skip": name.startswith("_")}


@PipelineDecorator.component(return_values=["trained"])
def train(data: dict):
    return data["name"].upper()


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(files: list = ["a", "_b", "c"]):
    results = []
    for name in files:
        data = load(name)
        if data["skip"]:
            continue
        else:
            data = dict(data, seen=True)
        results.append(train(data))
    return results
