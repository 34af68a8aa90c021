import os

from pipec import PipelineDecorator

NAMES = ["a", "b"]
TABLE = {}
for name in NAMES:
    TABLE[name] = len(print(name) or name)
os.environ["MODE"] = "fast"; print("mode set")


@PipelineDecorator.component(return_values=["size"])
def size(key: str):
    return TABLE[key]


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(key: str = "a"):
    return size(key)
