"""Iris classification in three steps, written with ClearML's decorator API.

Step one downloads the pickled iris table and turns it into arrays, step two splits it into
train and test sets, step three fits a logistic regression. Between steps two and three the
controller keeps only the petal measurements, and at the end it prints the model.

    python examples/iris/make_dataset.py               # writes /tmp/pipec-iris/iris.pkl
    python examples/iris/pipeline.py                   # runs it eagerly, as plain Python
    pipec build examples/iris/pipeline.py && pipec run build/iris
"""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["features", "labels"], cache=True, task_type="data_processing")
def load_table(url: str):
    """Fetch the pickled table from `url` (file:// and http(s):// both work)."""
    import pickle
    import urllib.request

    import numpy as np

    with urllib.request.urlopen(url) as response:
        table = pickle.load(response)
    features = np.asarray(table["data"], dtype=float)
    labels = np.asarray(table["target"])
    return features, labels


@PipelineDecorator.component(
    return_values=["X_train", "X_test", "y_train", "y_test"], cache=True, task_type="data_processing"
)
def split_dataset(features, labels, test_size: float = 0.2, seed: int = 42):
    """Hold out `test_size` of the rows, stratified by class."""
    from sklearn.model_selection import train_test_split

    return train_test_split(features, labels, test_size=test_size, random_state=seed, stratify=labels)


@PipelineDecorator.component(return_values=["model"], cache=True, task_type="training")
def train_model(X_train, y_train, c: float = 1.0):
    """Fit a logistic regression with inverse regularisation strength `c`."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=500)
    model.fit(X_train, y_train)
    return model


@PipelineDecorator.pipeline(name="iris", project="examples", version="1.0.0")
def iris_pipeline(url: str, test_size: float = 0.2, c: float = 1.0):
    print(f"pipeline parameters: url={url} test_size={test_size} c={c}")
    features, labels = load_table(url)
    X_train, X_test, y_train, y_test = split_dataset(features, labels, test_size=test_size)
    # Keep the petal length and width only: they separate the three species best.
    X_train = X_train[:, 2:]
    X_test = X_test[:, 2:]
    print(f"training on {len(X_train)} rows, testing on {len(X_test)}")
    model = train_model(X_train, y_train, c=c)
    print(f"model: {model}")
    print(f"test accuracy: {model.score(X_test, y_test):.3f}")
    return model


if __name__ == "__main__":
    PipelineDecorator.set_default_execution_queue("default")
    iris_pipeline(url="file:///tmp/pipec-iris/iris.pkl")
