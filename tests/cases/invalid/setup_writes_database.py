import sqlite3

from pipec import PipelineDecorator

DB = sqlite3.connect("runs.db")
DB.execute("CREATE TABLE IF NOT EXISTS runs (state TEXT)")
DB.execute("INSERT INTO runs VALUES ('started')")
DB.commit()


@PipelineDecorator.component(return_values=["v"])
def step(x: int):
    return x + 1


@PipelineDecorator.pipeline(name="cases", project="cases", version="1")
def controller(a: int = 1):
    return step(a)
