import argparse

from pipec import PipelineDecorator


class Trainer:
    def __init__(self, args):
        self.args = args


@PipelineDecorator.component(return_values=["files"])
def listing(n):
    return list(range(n + 2))


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    args = argparse.Namespace(lr=0.1)
    trainer = Trainer(args)
    files = listing(n)
    args.lr = 0.5
    print(trainer.args.lr, files)
    return files
