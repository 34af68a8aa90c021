"""Plain `for` and `if` over values only known at run time: a fan-out and a branch.

`list_shards` decides at run time how many shards there are; the `for` loop over its output
becomes a map node whose body (`score`) runs once per shard, in parallel, and the scores are
gathered back into a list. The `if` on their mean becomes a condition node: only the branch
Python would take runs (`promote` or `retrain`), and the other is skipped.

    python examples/routing/pipeline.py            # plain Python
    pipec build examples/routing/pipeline.py && pipec run build/routing
"""

from pipec import PipelineDecorator

THRESHOLD = 0.5


@PipelineDecorator.component(return_values=["shards"])
def list_shards(count: int):
    return [{"shard": index, "values": list(range(index, index + 4))} for index in range(count)]


@PipelineDecorator.component(return_values=["score"])
def score(shard):
    values = shard["values"]
    return sum(value % 3 == 0 for value in values) / len(values)


@PipelineDecorator.component(return_values=["model"])
def promote(mean: float):
    return {"status": "promoted", "score": mean}


@PipelineDecorator.component(return_values=["model"])
def retrain(mean: float, rounds: int):
    return {"status": "retrained", "score": mean, "rounds": rounds}


@PipelineDecorator.pipeline(name="routing", project="examples", version="1.0.0")
def route(count: int = 5, rounds: int = 3):
    shards = list_shards(count)
    scores = []
    for shard in shards:
        scores.append(score(shard))
    mean = sum(scores) / len(scores)
    print(f"{len(scores)} shards, mean score {mean:.3f}")
    if mean >= THRESHOLD:
        model = promote(mean)
    else:
        print(f"below {THRESHOLD}: retraining for {rounds} rounds")
        model = retrain(mean, rounds)
    print(f"model: {model['status']}")
    return model


if __name__ == "__main__":
    route()
