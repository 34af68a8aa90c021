from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["total"])
def merge(defaults, overrides):
    overrides[0]["lr"] = 0.5
    return defaults["lr"]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller():
    config = {"lr": 0.1}
    print(merge(config, [config]))
