import functools
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


@functools.lru_cache(maxsize=None)
@PipelineDecorator.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return double(1) + double(1)
