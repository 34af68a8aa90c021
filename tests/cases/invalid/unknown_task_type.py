from clearml import PipelineDecorator, Task


@PipelineDecorator.component(return_values=["rows"], task_type=Task.TaskTypes.dataprocessing)
def load(n: int):
    return list(range(n))


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller():
    return load(3)
