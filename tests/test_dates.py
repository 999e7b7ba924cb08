"""Date and time columns become parts inside the saved model: detected, recorded, served."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import validate_data
from components.features import date_format, infer_features
from pipelines.serving_check import check_serving
from tests.conftest import dataset, evaluate, train_on_csv


def weekday_table(rows=1500, seed=0, form="%Y-%m-%d"):
    """A label decided by the day of the week of a purchase date, and a noise column."""
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, rows), unit="D")
    label = np.where(dates.day_of_week.isin([0, 2, 4, 6]), "yes", "no")
    flipped = rng.random(rows) < 0.03
    label[flipped] = np.where(label[flipped] == "yes", "no", "yes")
    return pd.DataFrame(
        {"purchase_date": dates.strftime(form), "amount": rng.normal(50, 10, rows), "y": label}
    )


def balanced_accuracy(model, test, folder):
    return evaluate(model, test, folder)[0]["balanced_accuracy"]


def test_the_day_of_week_is_learnt_from_a_date_column(tmp_path):
    table = weekday_table()
    table.to_csv(tmp_path / "dated.csv", index=False)
    model, _, test = train_on_csv(tmp_path / "dated.csv", "y", tmp_path / "with", n_estimators=50)
    schema = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())["features"]
    date = {f["name"]: f for f in schema}["purchase_date"]
    assert date["kind"] == "datetime" and date["format"] == "ISO8601"
    assert date["parts"] == ["year", "month", "day_of_week", "day_of_year"]  # no times, no hour
    assert date["min"].startswith("2023-01-01") and date["unparseable"] == 0
    assert balanced_accuracy(model, test, tmp_path / "with") > 0.9

    # The same dates as opaque text, one value per row: nothing to generalise from. (A
    # category per date would: the target encoder learns the dates seen in training.)
    table["purchase_date"] = "on " + table["purchase_date"] + " #" + table.index.astype(str)
    table.to_csv(tmp_path / "opaque.csv", index=False)
    model, _, test = train_on_csv(tmp_path / "opaque.csv", "y", tmp_path / "without")
    assert balanced_accuracy(model, test, tmp_path / "without") < 0.65


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-03-05", "2024-12-31", None], "ISO8601"),
        (["2024-03-05T10:15:00+01:00", "2024-12-31T23:59:59Z"], "ISO8601"),
        (["25/12/2024", "05/01/2024", "13/02/2023"], "%d/%m/%Y"),
        (["12/25/2024", "01/05/2024", "02/13/2023"], "%m/%d/%Y"),
        (["25.12.2024 10:30", "05.01.2024 08:00"], "%d.%m.%Y %H:%M"),
        (["2024/12/25", "2023/01/05"], "ISO8601"),  # year first: ISO 8601 reads it
        (["12.5", "3.25", "7.0"], ""),  # numbers with a decimal point
        (["red", "green"], ""),
        (["2024", "2023"], ""),  # years alone stay numbers or categories
    ],
)
def test_date_formats_are_detected(values, expected):
    assert date_format(pd.Series(values, dtype=object)) == expected


def test_times_add_the_hour():
    frame = pd.DataFrame({"at": ["2024-03-05 10:15", "2024-03-06 18:00"], "y": ["a", "b"]})
    (feature,) = infer_features(frame, "y")
    assert feature["kind"] == "datetime" and feature["parts"][-1] == "hour"


def test_a_date_on_every_row_is_not_id_like(tmp_path):
    table = weekday_table(rows=300).drop_duplicates("purchase_date")
    path = tmp_path / "table"
    table.to_parquet(path)
    result = validate_data.python_func(
        data=dataset(path),
        report=HTML(name="r", uri=str(tmp_path / "r.html")),
        metrics=Metrics(name="m", uri=str(tmp_path / "m")),
        target_column="y",
    )
    assert result.excluded_columns == []
    assert "purchase_date" in pathlib.Path(tmp_path / "r.html").read_text()


def test_raw_date_strings_are_scored_and_served_with_unparseable_ones_as_gaps(tmp_path):
    from components import batch_predict

    weekday_table(form="%d/%m/%Y").to_csv(tmp_path / "dated.csv", index=False)
    model, _, _ = train_on_csv(tmp_path / "dated.csv", "y", tmp_path / "model")
    rows = weekday_table(rows=30, seed=5, form="%d/%m/%Y").drop(columns="y")
    rows.loc[:2, "purchase_date"] = ["not a date", "31/02/2024", None]
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predictions = dataset(tmp_path / "predictions")
    batch_predict.python_func(
        model=model, data=dataset(tmp_path / "rows.csv"), predictions=predictions
    )
    scored = pd.read_csv(predictions.path)
    assert scored["prediction"].notna().all()
    assert predictions.metadata["unparseable_dates"] == {"purchase_date": 2}
    assert any(w.startswith("dates that do not parse") for w in predictions.metadata["warnings"])

    # MLServer loads the pickled date steps (pandas and operator only) and answers the same.
    result = check_serving(pathlib.Path(model.path), tmp_path / "rows.csv")
    expected = scored[["proba_no", "proba_yes"]].to_numpy()
    assert np.allclose(result["served"], expected, atol=1e-9)
