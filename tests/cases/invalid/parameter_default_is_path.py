from pathlib import Path

from pipec import PipelineDecorator

HERE = Path(__file__).parent


@PipelineDecorator.component(return_values=["text"])
def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(config=HERE / "config.yaml"):
    return read(config)
