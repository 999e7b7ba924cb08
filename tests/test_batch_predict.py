"""batch_predict as a plain function: predictions, column handling, and refusals."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from components import batch_predict
from tests.conftest import dataset, make_messy_frame


def predict(model, csv, tmp_path, name="predictions"):
    out = dataset(tmp_path / name)
    batch_predict.python_func(model=model, data=dataset(csv), predictions=out)
    return pd.read_csv(out.path), out.metadata


def new_rows(tmp_path, frame=None, name="new.csv"):
    frame = make_messy_frame(rows=50, seed=1).drop(columns="churned") if frame is None else frame
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_predictions_keep_input_rows_and_add_class_and_probabilities(messy_model, tmp_path):
    model, _, _ = messy_model
    source = pd.read_csv(new_rows(tmp_path))
    scored, meta = predict(model, new_rows(tmp_path), tmp_path)

    assert list(scored.columns) == [*source.columns, "prediction", "proba_churn", "proba_stay"]
    pd.testing.assert_frame_equal(scored[source.columns], source)
    assert set(scored["prediction"]) <= {"churn", "stay"}
    assert np.allclose(scored[["proba_churn", "proba_stay"]].sum(axis=1), 1.0)
    assert (
        scored["prediction"]
        == np.where(scored["proba_stay"] > scored["proba_churn"], "stay", "churn")
    ).all()
    assert meta["rows"] == 50 and sum(meta["prediction_counts"].values()) == 50
    assert meta["classes"] == ["churn", "stay"]
    assert not list(pathlib.Path(tmp_path).glob("*.partial"))


def test_column_order_and_extra_columns_do_not_matter(messy_model, tmp_path):
    model, _, _ = messy_model
    base, _ = predict(model, new_rows(tmp_path), tmp_path, "base")
    frame = make_messy_frame(rows=50, seed=1).drop(columns="churned")
    shuffled = frame[frame.columns[::-1]].assign(note="extra")
    scored, _ = predict(model, new_rows(tmp_path, shuffled, "shuffled.csv"), tmp_path, "shuffled")
    assert (scored["prediction"] == base["prediction"]).all()
    assert np.allclose(scored["proba_stay"], base["proba_stay"])
    assert (scored["note"] == "extra").all()


def test_unseen_categories_and_missing_values_are_scored(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = make_messy_frame(rows=10, seed=2).drop(columns="churned")
    frame["plan"] = "enterprise"
    frame.loc[:4, ["tenure_months", "city", "paperless"]] = np.nan
    scored, meta = predict(model, new_rows(tmp_path, frame), tmp_path)
    assert len(scored) == 10 and scored["prediction"].notna().all()
    assert meta["unseen_categories"]["plan"] == 10
    assert meta["missing_values"]["tenure_months"] >= 5
    (missing_warning,) = [w for w in meta["warnings"] if w.startswith("missing values")]
    assert "'tenure_months'" in missing_warning and "'paperless'" in missing_warning


def test_integer_labels_give_integer_proba_names(tmp_path):
    from tests.conftest import train_on_csv

    path = tmp_path / "ints.csv"
    x = np.arange(40)
    pd.DataFrame({"x": x, "y": x % 2 + 1}).to_csv(path, index=False)
    model, _, _ = train_on_csv(path, "y", tmp_path / "t")
    scored, _ = predict(model, new_rows(tmp_path, pd.DataFrame({"x": [1, 2]})), tmp_path)
    assert {"proba_1", "proba_2"} <= set(scored.columns)


# Refusals: one clear line each, and no predictions file left behind.


def assert_refused(model, csv, tmp_path, message):
    with pytest.raises(SystemExit, match=message):
        predict(model, csv, tmp_path)
    assert not (tmp_path / "predictions").exists()


def test_missing_feature_columns_are_listed(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = make_messy_frame(rows=5).drop(columns=["churned", "plan", "city"])
    assert_refused(
        model,
        new_rows(tmp_path, frame),
        tmp_path,
        r"missing feature column\(s\) \['plan', 'city'\]",
    )


def test_text_in_a_numeric_column_names_the_column_and_value(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = make_messy_frame(rows=5).drop(columns="churned")
    frame["tenure_months"] = frame["tenure_months"].astype(object)
    frame.loc[3, "tenure_months"] = "twelve"
    assert_refused(
        model,
        new_rows(tmp_path, frame),
        tmp_path,
        r"'tenure_months' must be numeric .* 'twelve' in data row 4",
    )


def test_infinite_numbers_are_refused(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = make_messy_frame(rows=5).drop(columns="churned")
    frame.loc[2, "tenure_months"] = np.inf
    assert_refused(
        model, new_rows(tmp_path, frame), tmp_path, r"'tenure_months' holds inf in data row 3"
    )


def test_model_file_changed_after_training(messy_model, tmp_path):
    model, _, _ = messy_model
    with open(pathlib.Path(model.path) / "model.joblib", "ab") as handle:
        handle.write(b"tampered")
    assert_refused(
        model, new_rows(tmp_path), tmp_path, "sha256 .* the file was changed or truncated"
    )


def test_model_from_another_scikit_learn_version(messy_model, tmp_path):
    model, _, _ = messy_model
    meta_path = pathlib.Path(model.path) / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "framework_version": "1.2.0"}))
    assert_refused(
        model, new_rows(tmp_path), tmp_path, "written by scikit-learn 1.2.0, this environment has"
    )


def test_not_a_model_directory(tmp_path):
    from tests.conftest import model_artifact

    (tmp_path / "empty_dir").mkdir()
    assert_refused(
        model_artifact(tmp_path / "empty_dir"),
        new_rows(tmp_path),
        tmp_path,
        "not a model directory",
    )


def test_schema_findings_are_counted_in_the_metadata(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = make_messy_frame(rows=20, seed=4).drop(columns="churned").assign(note="x")
    frame.loc[:2, "plan"] = "enterprise"
    frame.loc[:4, "city"] = np.nan
    _, meta = predict(model, new_rows(tmp_path, frame), tmp_path)
    assert meta["ignored_columns"] == ["note"]
    assert meta["unseen_categories"]["plan"] == 3
    assert meta["missing_values"]["city"] >= 5
    assert any("ignored columns" in warning for warning in meta["warnings"])
    assert meta["reading_options"]["delimiter"] == ","


def test_a_feature_differing_only_in_case_gets_a_suggestion(messy_model, tmp_path):
    model, _, _ = messy_model
    frame = (
        make_messy_frame(rows=10, seed=2).drop(columns="churned").rename(columns={"plan": "Plan"})
    )
    with pytest.raises(SystemExit, match=r"\['plan'\].*; did you mean \{'plan': 'Plan'\}"):
        predict(model, new_rows(tmp_path, frame), tmp_path)
