"""Artifact metadata stays small whatever the data: KFP passes it on the command line.

A wide, high-cardinality table once stopped evaluate_model with "Argument list
too long"; these tests run it through both pipelines on the local runner and
measure every artifact's metadata as each step wrote it.
"""

import json

import numpy as np
import pandas as pd
import pytest

from components.shared import bounded
from pipelines import batch_prediction_pipeline, training_pipeline

LIMIT = 16_000  # bytes of JSON per artifact's metadata


def make_wide_frame(rows: int = 5_500, text_columns: int = 30, numeric_columns: int = 1_970):
    """30 text columns of 5,000 distinct values each, 2,000 columns in all, a binary label."""
    rng = np.random.default_rng(3)
    columns = {}
    for i in range(text_columns):
        codes = np.concatenate([rng.permutation(5_000), rng.integers(0, 5_000, rows - 5_000)])
        columns[f"text_{i}"] = np.char.add(f"t{i}_value_", codes.astype(str))
    numbers = rng.integers(0, 10, (rows, numeric_columns))
    columns.update({f"n_{i}": numbers[:, i] for i in range(numeric_columns - 1)})
    columns["label"] = np.where(numbers[:, 0] + rng.normal(0, 2, rows) > 4.5, "yes", "no")
    return pd.DataFrame(columns)


def metadata_sizes(pipeline_root) -> dict:
    """JSON size of each artifact's metadata, by task and output, as the steps wrote it."""
    sizes = {}
    for path in pipeline_root.rglob("executor_output.json"):
        output = json.loads(path.read_text())
        for name, artifacts in output.get("artifacts", {}).items():
            for artifact in artifacts["artifacts"]:
                text = json.dumps(artifact.get("metadata", {}))
                sizes[f"{path.parent.name}/{name}"] = len(text.encode())
        for name, value in output.get("parameterValues", {}).items():
            sizes[f"{path.parent.name}/{name} (parameter)"] = len(json.dumps(value).encode())
    return sizes


def test_wide_high_cardinality_table_trains_evaluates_and_scores(local_runner, tmp_path):
    frame = make_wide_frame()
    assert frame.shape[1] == 2_000
    assert all(frame[f"text_{i}"].nunique() == 5_000 for i in range(30))
    data = tmp_path / "wide.csv"
    frame.to_csv(data, index=False)
    rows = tmp_path / "rows.csv"
    frame.drop(columns="label").head(300).to_csv(rows, index=False)

    trained = training_pipeline(
        data_uri=str(data), target_column="label", search_space=[{"n_estimators": 10}]
    ).outputs
    scored = batch_prediction_pipeline(model_uri=trained["model"].path, data_uri=str(rows))

    assert trained["model"].metadata["feature_count"] == 1_999
    assert scored.outputs["predictions"].metadata["rows"] == 300
    sizes = metadata_sizes(local_runner)
    for step in ("load-data", "split-data", "train-model", "evaluate-model", "batch-predict"):
        assert any(key.startswith(step) for key in sizes), f"{step} wrote no executor output"
    too_large = {key: size for key, size in sizes.items() if size > LIMIT}
    assert not too_large, f"metadata over {LIMIT} bytes: {too_large}"


def test_a_target_with_thousands_of_classes_has_bounded_split_metadata(tmp_path):
    from components import load_data, split_data
    from tests.conftest import dataset

    labels = np.repeat([f"class_{i}" for i in range(3_000)], 2)
    path = tmp_path / "many.csv"
    pd.DataFrame({"x": np.arange(len(labels)), "y": labels}).to_csv(path, index=False)
    cleaned, train, test = (dataset(tmp_path / name) for name in ("cleaned", "train", "test"))
    load_data.python_func(raw=dataset(path), cleaned=cleaned, target_column="y")
    split_data.python_func(data=cleaned, train=train, test=test, target_column="y", test_size=0.5)

    for artifact in (cleaned, train, test):
        assert len(json.dumps(artifact.metadata)) < LIMIT
        assert artifact.metadata["class_count"] == 3_000
        assert artifact.metadata["class_counts"]["…"] == "2980 more"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (list(range(25)), [*range(20), "… 5 more"]),
        ({str(i): i for i in range(21)}, {**{str(i): i for i in range(20)}, "…": "1 more"}),
        ({"nested": {"a": ["x" * 300]}}, {"nested": {"a": ["x" * 199 + "…"]}}),
        ({"small": [1, 2]}, {"small": [1, 2]}),
    ],
)
def test_bounded_cuts_and_marks(value, expected):
    assert bounded(value) == expected
