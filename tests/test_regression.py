"""Regression end to end: each component in the regression task, and both pipelines."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Markdown, Metrics

from components import (
    batch_predict,
    bless_model,
    load_data,
    validate_data,
)
from pipelines import batch_prediction_pipeline, training_pipeline
from pipelines.serving_check import check_serving
from tests.conftest import (
    dataset,
    evaluate,
    make_messy_regression_frame,
    train_on_csv,
    trivial_metrics,
)


@pytest.fixture
def messy_prices(tmp_path):
    path = tmp_path / "prices.csv"
    make_messy_regression_frame().to_csv(path, index=False)
    return path


def test_components_handle_a_regression_target(messy_prices, tmp_path):
    cleaned = dataset(tmp_path / "cleaned")
    result = load_data.python_func(
        raw=dataset(messy_prices), cleaned=cleaned, target_column="price"
    )
    assert result.task == "regression" and cleaned.metadata["task"] == "regression"
    assert "whole numbers with" in cleaned.metadata["task_reason"]
    assert set(cleaned.metadata["target_summary"]) == {"min", "max", "mean", "std"}

    validated = validate_data.python_func(
        data=cleaned,
        report=HTML(name="r", uri=str(tmp_path / "validation.html")),
        metrics=(checks := Metrics(name="m", uri=str(tmp_path / "m"), metadata={})),
        target_column="price",
    )
    assert validated.excluded_columns == ["listing_id"]
    assert "imbalance" not in " ".join(validated.warnings)
    assert "target_skew" in checks.metadata and "minority_class_share" not in checks.metadata
    assert "<h2>Target</h2>" in (tmp_path / "validation.html").read_text()

    model, train, test = train_on_csv(
        messy_prices, "price", tmp_path / "trained", exclude_columns=["listing_id"], n_estimators=50
    )
    meta = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    assert meta["task"] == "regression" and "classes" not in meta
    # Stratified on quantile bins: both sides span the target's range.
    train_prices = pd.read_parquet(train.path)["price"]
    test_prices = pd.read_parquet(test.path)["price"]
    assert abs(train_prices.median() - test_prices.median()) < 0.1 * train_prices.std()

    every_family = [{"model": "ridge"}, {"n_estimators": 30}, {"model": "hist_gradient_boosting"}]
    every_family.append({"model": "extra_trees", "n_estimators": 30})
    train_on_csv(
        messy_prices, "price", tmp_path / "swept", exclude_columns=["listing_id"],
        search_space=every_family,
    )  # fmt: skip
    board = (tmp_path / "swept" / "leaderboard.html").read_text()
    # A header, the four and their ensemble.
    assert "4 candidate(s)" in board and "ranked by r2 (higher is better)" in board
    assert board.count("<tr>") == 6

    metrics, classification, page = evaluate(model, test, tmp_path)
    scores = {name for name in metrics if not name.startswith("importance_")}
    assert scores == {"r2", "rmse", "mae", "mape", "max_error", "test_rows"}
    assert len(set(metrics) - scores) == 4  # the columns that matter most: all four here
    assert metrics["r2"] > 0.6 and metrics["rmse"] < metrics["max_error"]
    assert classification == {}  # no classification metrics for a regressor
    assert page.count("<svg") == 3  # the two charts, and the importance
    assert "Error by decile of the actual value" in page

    decision = Markdown(name="d", uri=str(tmp_path / "decision.md"))
    numbers = Metrics(name="n", uri=str(tmp_path / "n"), metadata={})
    blessing = bless_model.python_func(
        model=model, metrics=Metrics(name="m", uri="", metadata=metrics), test=test,
        trivial_metrics=trivial_metrics(model, test),
        decision=decision, decision_metrics=numbers,
    )  # fmt: skip
    assert blessing.blessed and numbers.metadata["trivial_value"] <= 0.01  # the mean: r2 ~ 0
    rejected = bless_model.python_func(
        model=model, metrics=Metrics(name="m", uri="", metadata=metrics), test=test,
        trivial_metrics=trivial_metrics(model, test),
        decision=decision, decision_metrics=numbers, min_metric="rmse",
        min_value=metrics["rmse"] / 2,
    )  # fmt: skip
    assert not rejected.blessed and "≤ the maximum" not in " ".join(rejected.reasons)

    rows = make_messy_regression_frame(rows=40, seed=3).drop(columns="price")
    rows.to_csv(tmp_path / "rows.csv", index=False)
    predictions = dataset(tmp_path / "predictions")
    batch_predict.python_func(
        model=model, data=dataset(tmp_path / "rows.csv"), predictions=predictions
    )
    out = pd.read_csv(predictions.path)
    assert pd.api.types.is_float_dtype(out["prediction"])
    assert (out["tree_p10"] <= out["prediction"]).all() and (
        out["prediction"] <= out["tree_p90"]
    ).all()
    assert set(predictions.metadata["prediction_summary"]) == {"min", "mean", "max"}


def test_regression_split_with_a_diamond_like_target_needs_no_class_rows(tmp_path):
    """Integer prices with thousands of distinct values: once a 'single-row class' error."""
    rng = np.random.default_rng(4)
    carat = rng.uniform(0.2, 3, 8000)
    price = np.round(3500 * carat**1.7 + rng.normal(0, 300, 8000)).clip(300).astype(int)
    path = tmp_path / "diamonds.csv"
    pd.DataFrame({"carat": carat, "cut": rng.choice(["Fair", "Good", "Ideal"], 8000),
                  "price": price}).to_csv(path, index=False)  # fmt: skip
    model, _, test = train_on_csv(path, "price", tmp_path / "m", n_estimators=30)
    metrics, _, _ = evaluate(model, test, tmp_path)
    assert metrics["r2"] > 0.9


def test_forced_tasks_refuse_what_they_cannot_learn(messy_prices, tmp_path):
    cleaned = dataset(tmp_path / "cleaned")
    with pytest.raises(SystemExit, match=r"whole numbers with \d+ distinct values: as classes"):
        pd.DataFrame({"x": range(3000), "y": range(3000)}).to_csv(tmp_path / "ids.csv", index=False)
        load_data.python_func(
            raw=dataset(tmp_path / "ids.csv"), cleaned=cleaned, target_column="y",
            task="classification",
        )  # fmt: skip
    with pytest.raises(SystemExit, match="entry 1: class_weight applies to classification only"):
        train_on_csv(messy_prices, "price", tmp_path / "t", class_weight="balanced")


def test_diabetes_trains_scores_and_serves_as_a_regression(local_runner, diabetes_csv, tmp_path):
    trained = training_pipeline(data_uri=str(diabetes_csv), target_column="target").outputs
    metrics = trained["metrics"].metadata
    assert metrics["r2"] > 0.3 and {"rmse", "mae", "max_error"} <= set(metrics)
    assert trained["model"].metadata["task"] == "regression"

    rows = pd.read_csv(diabetes_csv).drop(columns="target").head(25)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    scored = batch_prediction_pipeline(
        model_uri=trained["model"].path, data_uri=str(tmp_path / "rows.csv")
    ).outputs["predictions"]
    predictions = pd.read_csv(scored.path)["prediction"].to_numpy()

    result = check_serving(pathlib.Path(trained["model"].path), tmp_path / "rows.csv")
    assert np.allclose(result["served"], predictions, atol=1e-9)


def house_prices(rng, rows=2930):
    """Like the Ames table: whole-dollar prices, many columns, text categories and gaps."""
    area = rng.uniform(500, 4000, rows)
    columns = {f"feature_{i}": rng.normal(size=rows) for i in range(60)}
    columns.update({f"category_{i}": rng.choice(["A", "B", "C", None], rows) for i in range(10)})
    quality = rng.integers(1, 11, rows)
    price = 60 * area + 9000 * quality + 12000 * columns["feature_0"]
    columns.update(Gr_Liv_Area=area, Overall_Qual=quality)
    columns["Sale_Price"] = np.round(price + rng.normal(0, 15000, rows)).astype(int)
    return pd.DataFrame(columns), "Sale_Price"


def diamond_prices(rng, rows=20000):
    """Like the diamonds table: integer prices with thousands of distinct values."""
    carat = rng.uniform(0.2, 3, rows)
    cut = rng.choice(["Fair", "Good", "Very Good", "Premium", "Ideal"], rows)
    lift = pd.Series(cut).map({"Fair": 0.8, "Good": 0.9, "Very Good": 1.0, "Premium": 1.1,
                               "Ideal": 1.2}).to_numpy()  # fmt: skip
    price = np.round(lift * 3500 * carat**1.7 + rng.normal(0, 250, rows)).clip(300).astype(int)
    return pd.DataFrame({"carat": carat, "cut": cut, "depth": rng.normal(61, 1, rows),
                         "price": price}), "price"  # fmt: skip


def hotel_rates(rng, rows=4000):
    """Like hotel room rates: floats, with dates and categories."""
    nights = rng.integers(1, 14, rows)
    room = rng.choice(["single", "double", "suite"], rows)
    base = pd.Series(room).map({"single": 80.0, "double": 120.0, "suite": 260.0}).to_numpy()
    rate = base * (1 + 0.3 * rng.random(rows)) - 2.5 * nights
    return pd.DataFrame({"nights": nights, "room": room, "adults": rng.integers(1, 4, rows),
                         "adr": rate.round(2)}), "adr"  # fmt: skip


@pytest.mark.parametrize("make", [house_prices, diamond_prices, hotel_rates])
def test_the_compiled_pipeline_with_defaults_trains_a_regressor_like_a_plain_forest(
    local_runner, tmp_path, make
):
    from kfp import components
    from sklearn.ensemble import RandomForestRegressor

    from tests.test_compiled import COMPILED

    frame, target = make(np.random.default_rng(7))
    frame.to_csv(tmp_path / "table.csv", index=False)
    training = components.load_component_from_file(str(COMPILED / "training_pipeline.yaml"))
    outputs = training(data_uri=str(tmp_path / "table.csv"), target_column=target).outputs
    metrics = outputs["metrics"].metadata
    assert {"r2", "rmse", "mae"} <= set(metrics)

    # A plain forest on the same split, text one-hot encoded, gaps filled with medians.
    (split,) = local_runner.glob("**/split-data")
    train, test = (pd.read_parquet(split / name) for name in ("train", "test"))
    both = pd.get_dummies(pd.concat([train, test]).drop(columns=target), dummy_na=True)
    both = both.fillna(both.median(numeric_only=True))
    plain = RandomForestRegressor(random_state=42, n_jobs=-1)
    plain.fit(both.iloc[: len(train)], train[target])
    plain_r2 = plain.score(both.iloc[len(train) :], test[target])
    assert metrics["r2"] > plain_r2 - 0.05, (metrics["r2"], plain_r2)


def test_a_messy_regression_table_through_both_pipelines(local_runner, messy_prices, tmp_path):
    from components import detect_drift

    trained = training_pipeline(data_uri=str(messy_prices), target_column="price").outputs
    model = trained["model"]
    assert model.metadata["task"] == "regression"
    assert model.metadata["excluded_columns"] == ["listing_id"]  # the ID column
    assert trained["metrics"].metadata["r2"] > 0.6

    rows = make_messy_regression_frame(rows=50, seed=9).drop(columns="price")
    rows.loc[:4, "quality"] = "luxury"  # unseen in training
    rows.to_csv(tmp_path / "rows.csv", index=False)
    scored = batch_prediction_pipeline(model_uri=model.path, data_uri=str(tmp_path / "rows.csv"))
    predictions = scored.outputs["predictions"]
    assert predictions.metadata["task"] == "regression"
    assert predictions.metadata["unseen_categories"] == {"quality": 5}
    assert pd.read_csv(predictions.path)["prediction"].between(0, 10**7).all()

    # Drift needs no target: the same checks as for a classifier.
    report = HTML(name="r", uri=str(tmp_path / "drift.html"))
    numbers = Metrics(name="m", uri=str(tmp_path / "m"), metadata={})
    detect_drift.python_func(
        model=model, data=dataset(tmp_path / "rows.csv"), report=report, metrics=numbers
    )
    assert numbers.metadata["max_new_category_share"] == pytest.approx(0.1)
