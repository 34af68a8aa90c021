import argparse

from pipec import PipelineDecorator

from project.flows import nightly_flow

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("day")
    PipelineDecorator.run_locally()
    nightly_flow(parser.parse_args().day)
