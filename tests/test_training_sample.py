"""train_model on a sample its memory holds: stratified, the latest rows, bounded, reported."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

import components.sampling
from components import train_model
from tests.conftest import dataset, model_artifact

ROWS = 3000


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """3,000 rows: two numbers, a category, a date; a 4:1 target the numbers predict."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROWS, 2))
    frame = pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "kind": rng.choice(["a", "b", "c"], ROWS),
            "day": pd.date_range("2024-01-01", periods=ROWS, freq="h").strftime("%Y-%m-%d %H:%M"),
            "y": np.where(x[:, 0] + 0.5 * rng.normal(size=ROWS) > 0.85, "yes", "no"),
        }
    )
    path = tmp_path_factory.mktemp("sample") / "train.parquet"
    frame.to_parquet(path)
    return frame, path


def fit(path, folder, **options):
    model = model_artifact(folder / "model")
    board = HTML(name="leaderboard", uri=str(folder / "leaderboard"), metadata={})
    train_model.python_func(
        train=dataset(path), model=model, leaderboard=board,
        leaderboard_metrics=Metrics(name="m", uri=str(folder / "m"), metadata={}),
        target_column="y", search_space=[{"n_estimators": 10}], **options,
    )  # fmt: skip
    metadata = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    return metadata, pathlib.Path(board.path).read_text()


def test_max_train_rows_fits_on_a_stratified_sample_and_says_so(table, tmp_path, capsys):
    frame, path = table
    metadata, page = fit(path, tmp_path, max_train_rows="1500")
    assert (metadata["training_rows"], metadata["training_rows_available"]) == (1500, ROWS)
    assert metadata["training_sample"] == "a sample stratified by class"
    share = frame["y"].eq("yes").mean()
    counts = dict(zip(metadata["classes"], metadata["class_counts"], strict=True))
    assert abs(counts["yes"] - 1500 * share) <= 1  # the classes' shares kept
    assert (
        "Trained on 1,500 of 3,000 rows, a sample stratified by class (max_train_rows=1500)" in page
    )
    curve = metadata["learning_curve"]
    assert [point["rows"] for point in curve["points"]] == [375, 750, 1500]
    assert curve["judged_on"] == ROWS - 1500  # the rows the sample left out
    assert all(0.5 < point["score"] <= 1 for point in curve["points"])
    out = capsys.readouterr().out
    assert "Learning curve (random_forest, roc_auc on rows left out of the sample)" in out
    assert "on 1,500 of 3,000 rows" in out


def test_with_a_time_column_the_sample_is_the_latest_rows(table, tmp_path):
    frame, path = table
    metadata, _ = fit(path, tmp_path, max_train_rows="1200", time_column="day")
    assert metadata["training_sample"] == "the latest 1,200 by day"
    (day,) = [feature for feature in metadata["features"] if feature["name"] == "day"]
    assert day["min"].startswith(
        pd.Timestamp(frame["day"].iloc[ROWS - 1200]).strftime("%Y-%m-%dT%H")
    )


def test_the_declared_memory_limit_bounds_the_rows(table, tmp_path, monkeypatch):
    _, path = table
    monkeypatch.setattr(components.sampling, "resident_bytes", lambda: 0)
    monkeypatch.setattr(components.sampling, "row_cost", lambda *args: 1000.0)
    metadata, page = fit(path, tmp_path, declared_memory_limit="2Mi")
    # 90% of the limit, less 64 bytes a row of the target held whole, at 1,000 bytes a row.
    assert metadata["training_rows"] == int((0.9 * 2 * 2**20 - 64 * ROWS) // 1000) == 1695
    assert metadata["training_bound"] == "heavy_memory_limit=2Mi"
    assert "as many as heavy_memory_limit=2Mi holds at about 1,000 bytes a row; raise it" in page
    metadata, _ = fit(path, tmp_path / "all", declared_memory_limit="")  # no limit: every row
    assert metadata["training_rows"] == ROWS and metadata["training_sample"] == "all rows"


def test_a_limit_that_cannot_hold_the_fewest_rows_stops_in_one_line(table, tmp_path):
    _, path = table
    with pytest.raises(SystemExit) as stopped:
        fit(path, tmp_path, declared_memory_limit="64Mi")
    message = str(stopped.value)
    assert message.startswith(
        "kfp-tabular error: train_model: fitting on 1,000 of the 3,000 training rows needs about "
    )
    assert message.endswith(
        "more than the step's memory limit of 64 MiB (heavy_memory_limit=64Mi). Raise the "
        "pipeline parameter heavy_memory_limit."
    )
    assert "\n" not in message
