import logging
import os

from pipec import PipelineDecorator

DEBUG = os.environ.get("DEBUG") == "1"

if DEBUG:
    logging.basicConfig(level=logging.DEBUG)
    print("debug logging on")

for name in ("A", "B"):
    os.environ.setdefault(name, "1")
    PipelineDecorator.set_default_execution_queue(name)


@PipelineDecorator.component(return_values=["level"])
def level():
    return logging.getLogger().level


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return level()
