from clearml import Task

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["rows"])
def load(n):
    return list(range(n))


@PipelineDecorator.component(return_values=["score"])
def fit(rows):
    return sum(rows) / len(rows)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    run = Task.create(project_name="t", task_name="fit")
    reporter = run.get_logger()
    rows = load(n)
    run = Task.create(project_name="t", task_name="again")
    score = fit(rows)
    reporter.report_single_value(name="score", value=score)
    return score
