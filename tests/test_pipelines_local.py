"""Both pipelines end to end on the KFP local runner (SubprocessRunner, no venv)."""

import json
import pathlib

import pandas as pd
import pytest

from pipelines import batch_prediction_pipeline, training_pipeline
from tests.conftest import make_messy_frame


def train_then_predict(csv, target, new_rows_csv, **parameters):
    trained = training_pipeline(
        data_uri=str(csv), target_column=target, **{"search_space": [{}], **parameters}
    ).outputs
    scored = batch_prediction_pipeline(
        model_uri=trained["model"].path, data_uri=str(new_rows_csv)
    ).outputs
    return trained, scored


def test_iris_from_csv_to_predictions(local_runner, iris_csv, tmp_path):
    frame = pd.read_csv(iris_csv)
    new_rows = tmp_path / "new.csv"
    frame.drop(columns="species").to_csv(new_rows, index=False)

    one = [{"n_estimators": 50}]
    trained, scored = train_then_predict(iris_csv, "species", new_rows, search_space=one)

    metrics = trained["metrics"].metadata
    assert metrics["test_rows"] == 30  # 20% of 150, stratified: the model never saw them
    assert metrics["accuracy"] > 0.85 and metrics["roc_auc"] > 0.9
    model_dir = pathlib.Path(trained["model"].path)
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["training_rows"] == 120
    assert meta["hyperparameters"]["n_estimators"] == 50
    assert trained["model"].metadata["sha256"] == meta["sha256"]

    predictions = pd.read_csv(scored["predictions"].path)
    assert len(predictions) == 150
    assert (predictions["prediction"] == frame["species"]).mean() > 0.95
    assert scored["predictions"].metadata["rows"] == 150


def test_messy_csv_from_csv_to_predictions(local_runner, messy_csv, tmp_path):
    new_rows = tmp_path / "new.csv"
    make_messy_frame(rows=60, seed=5).drop(columns="churned").to_csv(new_rows, index=False)

    trained, scored = train_then_predict(
        messy_csv, "churned", new_rows, search_space=[{"class_weight": "balanced"}]
    )

    metrics = trained["metrics"].metadata
    assert 0.65 < metrics["balanced_accuracy"] <= 1.0
    assert {"roc_auc", "log_loss", "f1_macro"} <= set(metrics)
    features = set(trained["model"].metadata["features"])
    assert {"plan", "city", "tenure_months", "monthly_fee", "paperless"} == features
    assert trained["model"].metadata["excluded_columns"] == ["customer_id"]  # ID-like
    predictions = pd.read_csv(scored["predictions"].path)
    assert len(predictions) == 60
    assert set(predictions["prediction"]) <= {"churn", "stay"}
    assert predictions["proba_churn"].between(0, 1).all()


def test_bad_input_fails_the_run_with_one_clear_line(local_runner, messy_csv, capsys):
    with pytest.raises(RuntimeError, match="load-data"):
        training_pipeline(data_uri=str(messy_csv), target_column="label")
    out = capsys.readouterr().out
    error_lines = [line for line in out.splitlines() if "kfp-tabular error:" in line]
    assert len(error_lines) == 1
    assert "target column 'label' not found; columns are ['customer_id'" in error_lines[0]
    assert "Traceback" not in out


def test_prediction_with_a_path_that_is_not_a_model(local_runner, messy_csv, tmp_path, capsys):
    with pytest.raises(RuntimeError, match="batch-predict"):
        batch_prediction_pipeline(model_uri=str(tmp_path), data_uri=str(messy_csv))
    assert "not a model directory from training_pipeline" in capsys.readouterr().out


def test_european_csv_trains_with_detected_options(local_runner, tmp_path):
    frame = make_messy_frame(rows=200, seed=6)
    frame["monthly_fee"] = pd.to_numeric(frame["monthly_fee"], errors="coerce")
    path = tmp_path / "clients.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")
    trained = training_pipeline(
        data_uri=str(path), target_column="churned", search_space=[{}]
    ).outputs
    kinds = trained["model"].metadata["features"]
    assert kinds["monthly_fee"] == "numeric" and kinds["tenure_months"] == "numeric"
    assert trained["metrics"].metadata["accuracy"] > 0.5


def test_validation_can_stop_training(local_runner, messy_csv, capsys):
    with pytest.raises(RuntimeError, match="validate-data"):
        training_pipeline(data_uri=str(messy_csv), target_column="churned", fail_on=["id_like"])
    out = capsys.readouterr().out
    assert "validation warning(s) in fail_on: id_like: column 'customer_id'" in out


def test_drift_over_the_threshold_stops_before_scoring(local_runner, messy_csv, tmp_path, capsys):
    model = training_pipeline(
        data_uri=str(messy_csv), target_column="churned", search_space=[{}]
    ).outputs["model"]
    shifted = make_messy_frame(rows=100, seed=8).drop(columns="churned")
    shifted["tenure_months"] = shifted["tenure_months"] * 5
    path = tmp_path / "shifted.csv"
    shifted.to_csv(path, index=False)
    with pytest.raises(RuntimeError, match="detect-drift"):
        batch_prediction_pipeline(model_uri=model.path, data_uri=str(path), max_psi=0.25)
    assert "drift over the thresholds in tenure_months PSI" in capsys.readouterr().out
    assert not list(local_runner.rglob("batch-predict/predictions"))


def test_scoring_rows_without_a_feature_column_stops_before_anything_is_written(
    local_runner, messy_csv, tmp_path, capsys
):
    model = training_pipeline(
        data_uri=str(messy_csv), target_column="churned", search_space=[{}]
    ).outputs["model"]
    rows = make_messy_frame(rows=30, seed=9).drop(columns=["churned", "city"])
    path = tmp_path / "no_city.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(RuntimeError, match="detect-drift"):
        batch_prediction_pipeline(model_uri=model.path, data_uri=str(path))
    assert (
        "missing feature column(s) ['city'] that the model was trained on"
        in capsys.readouterr().out
    )
    assert not list(local_runner.rglob("batch-predict/predictions"))
