from jinja2 import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["text"])
def render(name):
    # `jinja2` is installed, not read: `Template` is taken on trust, with one warning.
    return Template("hello {{ name }}").render(name=name) + Markup("!")


@PipelineDecorator.component(return_values=["a", "b"])
def halves(text):
    return text, text, text


@PipelineDecorator.pipeline(name="trusted", project="tests", version="1")
def controller(name: str = "world"):
    return halves(render(name))
