"""The baselines of the transfer benchmark: one process writes a value, another reads it.

    python transfer_baseline.py produce|consume METHOD KIND MEGABYTES PATH

METHOD is ``npy`` (``np.save``/``np.load``, arrays only), ``pickle5`` (pickle protocol 5 with
the large buffers written out of band, beside the pickle) or ``pickle`` (protocol 5, in band).
KIND and MEGABYTES make the same value as the benchmark's producer step.  The consumer
reads every byte, as the benchmark's consumer step does.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import numpy as np


def make_value(kind: str, megabytes: int) -> Any:
    float_count = megabytes * (1 << 20) // 8
    if kind == "array":
        return np.full(float_count, 1.5)
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    columns = 8
    data = np.full((float_count // columns, columns), 1.5)
    return pd.DataFrame(data, columns=[f"c{i}" for i in range(columns)])


def save(method: str, value: Any, path: str) -> None:
    if method == "npy":
        with open(path, "wb") as file:  # a file object: np.save would add ".npy" to a name
            np.save(file, value)
        return
    if method == "pickle":
        with open(path, "wb") as file:
            pickle.dump(value, file, protocol=5)
        return
    buffers: list[pickle.PickleBuffer] = []
    with open(path, "wb") as file:
        pickle.dump(value, file, protocol=5, buffer_callback=buffers.append)
    with open(path + ".buffers", "wb") as file:
        for buffer in buffers:
            file.write(len(buffer.raw()).to_bytes(8, "little"))
            file.write(buffer.raw())


def load(method: str, path: str) -> Any:
    if method == "npy":
        return np.load(path)
    if method == "pickle":
        with open(path, "rb") as file:
            return pickle.load(file)
    buffers = []
    with open(path + ".buffers", "rb") as file:
        while header := file.read(8):
            chunk = bytearray(int.from_bytes(header, "little"))
            file.readinto(chunk)
            buffers.append(chunk)
    with open(path, "rb") as file:
        return pickle.load(file, buffers=buffers)


def consume(value: Any) -> float:
    array = value if isinstance(value, np.ndarray) else value.to_numpy()
    return float(array.sum())


def main(argv: list[str]) -> int:
    role, method, kind, megabytes, path = argv
    if role == "produce":
        save(method, make_value(kind, int(megabytes)), path)
    else:
        consume(load(method, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
