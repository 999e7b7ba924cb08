"""evaluate_model as a plain function: metrics equal to scikit-learn's on the test rows only."""

import json
import pathlib
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, ClassificationMetrics, Metrics
from sklearn import metrics as sk

from components import evaluate_model
from components.features import select_features
from tests.conftest import dataset, train_on_csv


def evaluate(model, test, tmp_path):
    outputs = {
        "metrics": Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={}),
        "classification_metrics": ClassificationMetrics(
            name="classification_metrics", uri=str(tmp_path / "cm"), metadata={}
        ),
        "report": HTML(name="report", uri=str(tmp_path / "report.html"), metadata={}),
        "trivial_metrics": Metrics(name="trivial", uri=str(tmp_path / "trivial"), metadata={}),
    }
    evaluate_model.python_func(model=model, test=test, **outputs)
    return outputs


def expected_predictions(model, test):
    folder = pathlib.Path(model.path)
    estimator = joblib.load(folder / "model.joblib")
    meta = json.loads((folder / "metadata.json").read_text())
    frame = pd.read_parquet(test.path)
    inputs = select_features(frame, meta["features"], "test")
    return (
        estimator,
        frame[meta["target_column"]].to_numpy(),
        estimator.predict(inputs),
        estimator.predict_proba(inputs),
    )


def test_binary_metrics_match_scikit_learn_on_the_test_split(messy_model, tmp_path):
    model, _, test = messy_model
    out = evaluate(model, test, tmp_path)
    estimator, truth, predicted, proba = expected_predictions(model, test)
    got = out["metrics"].metadata

    assert got["test_rows"] == len(truth)
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted), abs=1e-6)
    assert got["f1_macro"] == pytest.approx(
        sk.f1_score(truth, predicted, average="macro"), abs=1e-6
    )
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(truth == "stay", proba[:, 1]), abs=1e-6)
    assert got["log_loss"] == pytest.approx(sk.log_loss(truth, proba), abs=1e-6)
    assert {name for name in got if not name.startswith("importance_")} == {
        "accuracy",
        "balanced_accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "roc_auc",
        "log_loss",
        "precision",
        "recall",
        "threshold",
        "test_rows",
    }
    assert got["recall"] == pytest.approx(sk.recall_score(truth, predicted, pos_label="stay"))
    assert got["threshold"] == 0.5
    # The messy table is learnable: far better than the majority class.
    assert got["balanced_accuracy"] > 0.65

    cm = out["classification_metrics"].metadata
    assert cm["confusionMatrix"]["annotationSpecs"] == [
        {"displayName": "churn"},
        {"displayName": "stay"},
    ]
    rows = [row["row"] for row in cm["confusionMatrix"]["rows"]]
    assert np.array_equal(rows, sk.confusion_matrix(truth, predicted, labels=estimator.classes_))
    curve = cm["confidenceMetrics"]
    assert curve and all(0 <= point["confidenceThreshold"] <= 1 for point in curve)


def test_multiclass_report_renders_every_class(iris_csv, tmp_path):
    model, _, test = train_on_csv(iris_csv, "species", tmp_path / "iris")
    out = evaluate(model, test, tmp_path)
    got = out["metrics"].metadata
    assert 0.8 < got["roc_auc"] <= 1.0 and got["accuracy"] > 0.8
    assert "confidenceMetrics" not in out["classification_metrics"].metadata

    page = pathlib.Path(out["report"].path).read_text()
    assert page.startswith("<!DOCTYPE html>")
    for label in ("setosa", "versicolor", "virginica", "Confusion matrix", "Classification report"):
        assert label in page
    report_table = page.split("<h2>Classification report</h2>")[1].split("<h2>")[0]
    row_names = re.findall(r"<tr>\s*<th>([^<]+)</th>", report_table)
    assert row_names == ["setosa", "versicolor", "virginica", "macro avg", "weighted avg"]
    assert re.search(r"<td>10</td>\s*</tr>", report_table), "support shows as whole rows"


def test_roc_auc_is_left_out_when_a_class_is_absent_from_the_test_rows(messy_model, tmp_path):
    model, _, test = messy_model
    frame = pd.read_parquet(test.path)
    only_stay = tmp_path / "only_stay"
    frame[frame["churned"] == "stay"].to_parquet(only_stay)
    out = evaluate(model, dataset(only_stay), tmp_path)
    assert "roc_auc" not in out["metrics"].metadata
    assert "roc_auc is undefined" in pathlib.Path(out["report"].path).read_text()


def test_class_names_are_escaped_in_the_report(tmp_path):
    path = tmp_path / "html.csv"
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    pd.DataFrame({"x": x, "y": np.where(x > 0, "<b>yes</b>", "no")}).to_csv(path, index=False)
    model, _, test = train_on_csv(path, "y", tmp_path / "t")
    page = pathlib.Path(evaluate(model, test, tmp_path)["report"].path).read_text()
    assert "<b>yes</b>" not in page and "&lt;b&gt;yes&lt;/b&gt;" in page


def figures(page: str) -> list[tuple[str, str]]:
    """Each chart of a report page: (alt text, caption); every one an SVG inside the page."""
    found = re.findall(
        r'<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="([^"]+)" '
        r".*?</svg><figcaption>([^<]+)</figcaption></figure>",
        page,
        flags=re.DOTALL,
    )
    assert page.count("<svg") == len(found), "a chart without its alt text or caption"
    assert "<img" not in page and "<script src" not in page  # nothing fetched
    return found


def test_the_report_holds_its_charts_and_the_importance_of_each_raw_column(tmp_path):
    rng = np.random.default_rng(0)
    rows = 600
    frame = pd.DataFrame(
        {
            "decides": rng.normal(size=rows),
            "noise_number": rng.normal(size=rows),
            "noise_text": rng.choice(["red", "green", "blue", "grey"], rows),
        }
    )
    frame["label"] = np.where(frame["decides"] > 0, "yes", "no")
    frame.to_csv(tmp_path / "one_column.csv", index=False)
    model, _, test = train_on_csv(tmp_path / "one_column.csv", "label", tmp_path / "run")
    outputs = evaluate(model, test, tmp_path)
    page = pathlib.Path(outputs["report"].path).read_text()

    captions = [caption for _, caption in figures(page)]
    assert captions == [
        "Permutation importance",
        "ROC",
        "Precision-recall",
        "Calibration",
        "Confusion matrix, counts",
        "Confusion matrix, share of each true class",
    ]
    data = re.search(r'<script type="application/json" id="importance">(.*?)</script>', page)
    importances = json.loads(data.group(1))
    assert [entry["column"] for entry in importances][0] == "decides"
    assert {entry["column"] for entry in importances} == {"decides", "noise_number", "noise_text"}
    assert importances[0]["mean"] > 0.3 > max(abs(entry["mean"]) for entry in importances[1:])
    metrics = outputs["metrics"].metadata
    assert metrics["importance_decides"] == importances[0]["mean"]


def test_the_plain_importance_scores_equal_scikit_learns():
    from sklearn import metrics as sk

    from components.reports import plain_balanced_accuracy, plain_r2

    rng = np.random.default_rng(0)
    for rows in (5, 40, 1000):
        truth = rng.choice(["a", "b", "c"], rows, p=[0.6, 0.3, 0.1])
        predicted = np.where(rng.random(rows) < 0.7, truth, rng.choice(["a", "b", "d"], rows))
        assert plain_balanced_accuracy(truth, predicted) == pytest.approx(
            sk.balanced_accuracy_score(truth, predicted)
        )
        values = rng.normal(size=rows)
        guess = values + rng.normal(size=rows)
        assert plain_r2(values, guess) == pytest.approx(sk.r2_score(values, guess))
    constant = np.ones(10)
    assert plain_r2(constant, constant) == sk.r2_score(constant, constant) == 1.0
    assert plain_r2(constant, constant * 2) == sk.r2_score(constant, constant * 2) == 0.0


def test_a_chart_of_a_constant_has_distinct_ticks_around_it():
    from components.reports import xy_chart

    chart = xy_chart([{"x": [1, 2, 3], "y": [7, 7, 7], "style": "points"}], "t", ("x", "y"), "a")
    y_ticks = re.findall(r'text-anchor="end" font-size="11">([^<]+)<', chart)
    assert len(y_ticks) >= 3 and len(set(y_ticks)) == len(y_ticks) and "7" in y_ticks


def test_permutation_importance_is_sized_by_the_data_and_the_same_every_time():
    from sklearn.ensemble import RandomForestClassifier

    from components.reports import permutation_importances

    rng = np.random.default_rng(0)

    def importances(rows, columns):
        inputs = pd.DataFrame(rng.normal(size=(rows, columns))).add_prefix("c")
        truth = np.where(inputs["c0"] > 0, "yes", "no")
        model = RandomForestClassifier(n_estimators=5, random_state=0).fit(inputs, truth)
        return [permutation_importances(model, inputs, truth, "balanced_accuracy") for _ in "ab"]

    first, again = importances(1500, 20)
    assert first == again  # a clock no longer decides the sample or the repeats
    assert first[1] == "1,000 of 1,500 test rows, 2 repeat(s), scored by balanced_accuracy"
    assert first[0][0]["column"] == "c0"
    (_, note), _ = importances(200, 3)
    assert note == "200 of 200 test rows, 5 repeat(s), scored by balanced_accuracy"
    (_, note), _ = importances(200, 400)  # 40,000 rows to predict: one repeat of 100 rows
    assert note == "100 of 200 test rows, 1 repeat(s), scored by balanced_accuracy"
    (skipped, note), _ = importances(100, 3000)
    assert skipped == [] and "the 3,000 columns" in note and "(10,000 rows predicted)" in note


def test_chunks_score_as_one_pass(messy_csv, tmp_path, monkeypatch):
    """7-row chunks give the metrics, curves and report (importances included) of one chunk,
    for a model whose predictions do not depend on threads (a forest's sums over trees do)."""
    from tests.conftest import evaluate, train_on_csv

    space = [{"model": "hist_gradient_boosting"}]
    model, _, test = train_on_csv(messy_csv, "churned", tmp_path, search_space=space)
    (tmp_path / "one").mkdir()
    (tmp_path / "chunked").mkdir()
    whole = evaluate(model, test, tmp_path / "one")
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    chunked = evaluate(model, test, tmp_path / "chunked")
    assert chunked == whole
    assert whole[0]["test_rows"] > 7 * 5 and "roc_auc" in whole[0]
