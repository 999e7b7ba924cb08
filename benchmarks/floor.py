"""The floor: read the data once and fit the same forest on every core, nothing else.

Usage: python -m benchmarks.floor DATA.csv TARGET
"""

import sys

import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split


def main(data_path: str, target: str) -> None:
    """Reads, splits as the pipeline does, and fits; writes nothing."""
    frame = pd.read_csv(data_path)
    x_train, _, y_train, _ = train_test_split(
        frame.drop(columns=[target]), frame[target], test_size=0.2, random_state=42
    )
    RandomForestClassifier(n_jobs=-1, random_state=42).fit(x_train, y_train)


if __name__ == "__main__":
    main(*sys.argv[1:3])
