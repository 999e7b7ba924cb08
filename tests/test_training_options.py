"""The training options: time, split and weight columns, and a threshold objective."""

import json
import math
import pathlib

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

import pipelines.cli as cli
from benchmarks.training_options import drifting_frame, run_steps, score_on
from components import split_data, train_model
from components.features import select_features
from components.training_options import choose_threshold, parse_objective
from pipelines.compiled import load_pipeline
from tests.conftest import dataset, make_messy_frame, model_artifact
from tests.test_validate_data import kinds, validate


def options_frame(rows: int = 300) -> pd.DataFrame:
    """The messy customer table with a date, a weight and a split column."""
    frame = make_messy_frame(rows, seed=3)
    rng = np.random.default_rng(3)
    frame["day"] = pd.date_range("2024-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    frame["weight"] = rng.uniform(0.5, 2, rows).round(2)
    frame["fold"] = rng.choice(
        ["Train", "train ", "VALIDATION", "test"], rows, p=[0.3] * 2 + [0.2] * 2
    )
    return frame


def run_files(model) -> tuple[dict, pathlib.Path]:
    """The model's metadata.json, and the run's folder (one folder a step)."""
    folder = pathlib.Path(model.path)
    return json.loads((folder / "metadata.json").read_text()), folder.parent.parent


def test_the_options_run_through_the_compiled_yaml(local_runner, tmp_path):
    frame = options_frame()
    frame.to_csv(tmp_path / "table.csv", index=False)
    pipeline = load_pipeline("training_pipeline")  # the committed YAML, as the CLI runs it

    outputs = pipeline(
        data_uri=str(tmp_path / "table.csv"), target_column="churned", search_space=[{}],
        split_column="fold", weight_column="weight", threshold_objective="precision_at_recall:0.9",
    ).outputs  # fmt: skip
    meta, run = run_files(outputs["model"])
    names = [feature["name"] for feature in meta["features"]]
    assert "fold" not in names and "weight" not in names and "day" in names
    assert meta["positive_class"] == "stay" and meta["weight_column"] == "weight"
    choice = meta["threshold_choice"]
    assert choice["how"] == "validation rows" and choice["recall"] >= 0.9
    assert meta["threshold"] == choice["threshold"] < 0.5
    estimator = joblib.load(pathlib.Path(outputs["model"].path) / "model.joblib")
    assert type(estimator[-1]).__name__ == "FixedThresholdClassifier"

    test = pd.read_parquet(run / "split-data" / "test")
    assert set(test["fold"].str.strip().str.lower()) == {"test"}
    truth, weights = test["churned"].to_numpy(), test["weight"].to_numpy()
    predicted = estimator.predict(select_features(test, meta["features"], "test"))
    assert set(predicted) == {"churn", "stay"}
    metrics = outputs["metrics"].metadata
    assert metrics["threshold"] == meta["threshold"] and metrics["test_rows"] == len(test)
    for name, score in (("accuracy", sk.accuracy_score), ("recall", sk.recall_score)):
        kept = {"pos_label": "stay"} if name == "recall" else {}
        expected = score(truth, predicted, sample_weight=weights, **kept)
        assert metrics[name] == pytest.approx(expected, abs=1e-6)  # weighted, at the threshold
    report = (run / "evaluate-model" / "report").read_text()
    assert "Split: predefined by &#x27;fold&#x27;" in report and "Weights from" in report
    assert f"Decision threshold {meta['threshold']:.4f}" in report
    assert "the dot: the model&#x27;s decision threshold" in report

    outputs = pipeline(
        data_uri=str(tmp_path / "table.csv"), target_column="churned", search_space=[{}],
        time_column="day",
    ).outputs  # fmt: skip
    meta, run = run_files(outputs["model"])
    train, test = (pd.read_parquet(run / "split-data" / name) for name in ("train", "test"))
    assert train["day"].max() < test["day"].min()  # the latest rows are the test rows
    rows = len(train) + len(test)
    assert len(test) == outputs["metrics"].metadata["test_rows"] == math.ceil(0.2 * rows)
    assert "threshold" not in meta and outputs["metrics"].metadata["threshold"] == 0.5
    assert (
        "Split: chronological by &#x27;day&#x27;" in (run / "evaluate-model" / "report").read_text()
    )


def refusal(run) -> str:
    """The one-line message a step or a check stops with."""
    with pytest.raises(SystemExit) as stop:
        run()
    (line,) = str(stop.value).splitlines()
    return line


def test_bad_option_values_are_refused_in_one_line(tmp_path, iris_csv):
    frame = options_frame(120)
    frame.loc[5, "fold"] = "holdout"
    frame.loc[7, "weight"] = -1
    frame.astype({"monthly_fee": str}).to_parquet(tmp_path / "table")
    table = dataset(tmp_path / "table")
    parts = {"train": dataset(tmp_path / "train"), "test": dataset(tmp_path / "test")}
    line = refusal(
        lambda: split_data.python_func(
            data=table, **parts, target_column="plan", split_column="fold"
        )
    )
    assert "split column 'fold' holds 'holdout'" in line and "train, validation or test" in line
    trained = {"model": model_artifact(tmp_path / "model"), "leaderboard": None}

    def train_with(**option):
        return refusal(
            lambda: train_model.python_func(
                train=table, **trained, leaderboard_metrics=None, target_column="plan", **option
            )
        )

    line = train_with(weight_column="weight")
    assert "weight column 'weight' has 1 missing, non-numeric or negative" in line
    line = train_with(threshold_objective="f1")
    assert line.endswith(
        "needs a binary target, and this is a 3-class target. Leave threshold_objective empty."
    )
    assert "(0, 1]" in refusal(lambda: parse_objective("precision_at_recall:1.5"))
    assert "not an objective" in refusal(lambda: parse_objective("recall:0.9"))
    assert "a 3-class target" in refusal(lambda: parse_objective("f1", "classification", 3))
    assert "a regression" in refusal(lambda: parse_objective("cost:1:5", "regression"))


def test_the_command_line_checks_the_options_before_running(
    iris_csv, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "run_locally", lambda *a, **k: pytest.fail("a pipeline ran"))

    def error(*options) -> str:
        argv = ["train", "--data", str(iris_csv), "--target", "species", *options]
        assert cli.main([*argv, "--output-dir", str(tmp_path)]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        return line

    assert error("--threshold-objective", "recall_at_precision:0").startswith(
        "error: --threshold-objective: threshold_objective 'recall_at_precision:0': the "
        "precision must be in (0, 1]"
    )
    assert "a regression" in error("--task", "regression", "--threshold-objective", "f1")
    assert error("--weight-column", "mass").startswith(
        "error: --weight-column: column 'mass' not found in"
    )


def test_the_threshold_meets_the_objective_on_the_rows_it_was_chosen_on():
    rng = np.random.default_rng(0)
    positive = rng.random(500) < 0.3
    score = np.clip(positive * 0.3 + rng.random(500) * 0.7, 0, 1)
    for objective, reached in (
        ("precision_at_recall:0.9", "recall"),
        ("recall_at_precision:0.8", "precision"),
    ):
        chosen = choose_threshold(positive, score, parse_objective(objective))
        decided = score >= chosen["threshold"]
        assert chosen["met"] and chosen[reached] >= float(objective.split(":")[1])
        assert chosen["recall"] == pytest.approx(decided[positive].mean(), abs=1e-6)
    costly = choose_threshold(positive, score, parse_objective("cost:1:20"))["threshold"]
    assert costly < choose_threshold(positive, score, parse_objective("cost:20:1"))["threshold"]


def test_a_random_split_overstates_a_drifting_table_and_a_chronological_one_does_not(tmp_path):
    table = drifting_frame(750, seed=0)
    past, future = table.iloc[:600], table.iloc[600:]
    past.to_csv(tmp_path / "past.csv", index=False)
    scores = {}
    for name, options in (("random", {}), ("chronological", {"time_column": "day"})):
        model, metrics = run_steps(
            tmp_path / "past.csv", "label", tmp_path / name, search_space=[{}], **options
        )
        later = score_on(model, future, "label")["balanced_accuracy"]
        scores[name] = (metrics["balanced_accuracy"], later)
    (random_test, random_later), (chrono_test, chrono_later) = scores.values()
    assert random_test > random_later + 0.15  # it tested on days it had trained around
    assert abs(chrono_test - chrono_later) < 0.05
    # validate_data sees the drift of the target's share when no time_column is set.
    trend = pd.DataFrame({"day": table["day"], "y": np.where(np.arange(750) < 375, "a", "b")})
    trend.loc[::7, "y"] = "b"
    trend.loc[400::9, "y"] = "a"
    (tmp_path / "v1").mkdir(), (tmp_path / "v2").mkdir()
    assert "time_trend" in kinds(validate(trend, tmp_path / "v1", target="y")[0])
    assert "time_trend" not in kinds(
        validate(trend, tmp_path / "v2", target="y", time_column="day")[0]
    )


def test_mlserver_answers_like_batch_predict_with_a_tuned_threshold(tmp_path):
    from kfp.dsl import Dataset

    from components import batch_predict
    from pipelines.serving_check import check_serving

    make_messy_frame(300, seed=5).to_csv(tmp_path / "train.csv", index=False)
    model, _ = run_steps(
        tmp_path / "train.csv", "churned", tmp_path / "run", search_space=[{}],
        threshold_objective="precision_at_recall:0.97",
    )  # fmt: skip
    rows_csv = tmp_path / "rows.csv"
    make_messy_frame(60, seed=6).drop(columns="churned").to_csv(rows_csv, index=False)
    out = Dataset(name="predictions", uri=str(tmp_path / "predictions.csv"), metadata={})
    batch_predict.python_func(model=model, data=dataset(rows_csv), predictions=out)
    scored = pd.read_csv(out.path)
    likeliest = np.where(scored["proba_stay"] > 0.5, "stay", "churn")
    assert (scored["prediction"] != likeliest).any()  # the threshold decides some rows

    result = check_serving(pathlib.Path(model.path), rows_csv, method="predict")  # real MLServer
    assert result["rows"] == 60 and result["predictions_equal"]
    assert list(result["served"]) == list(scored["prediction"])
