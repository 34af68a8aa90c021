"""Write the iris dataset as a pickle for the iris example, and print its file:// URL.

    python examples/iris/make_dataset.py [PATH]     # default: /tmp/pipec-iris/iris.pkl

The table comes from scikit-learn's bundled copy, so nothing is downloaded. It is stored as
plain lists, so loading it needs no third-party package.
"""

import pickle
import sys
from pathlib import Path

from sklearn.datasets import load_iris

DEFAULT_PATH = Path("/tmp/pipec-iris/iris.pkl")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    iris = load_iris()
    table = {
        "data": iris.data.tolist(),
        "target": iris.target.tolist(),
        "feature_names": list(iris.feature_names),
        "target_names": list(iris.target_names),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        pickle.dump(table, file)
    print(path.resolve().as_uri())


if __name__ == "__main__":
    main()
