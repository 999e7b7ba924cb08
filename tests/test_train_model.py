"""train_model as a plain function: the model directory, its metadata, and the fitted pipeline."""

import json
import pathlib

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from components import train_model
from components.shared import file_sha256
from tests.conftest import dataset, model_artifact


def test_model_directory_holds_joblib_and_metadata(messy_model):
    model, train, _ = messy_model
    folder = pathlib.Path(model.path)
    assert sorted(p.name for p in folder.iterdir()) == ["metadata.json", "model.joblib"]

    on_disk = json.loads((folder / "metadata.json").read_text())
    assert on_disk["sha256"] == file_sha256(folder / "model.joblib")
    assert on_disk["framework"] == "scikit-learn"
    assert on_disk["framework_version"] == sklearn.__version__
    assert on_disk["classes"] == ["churn", "stay"]
    assert on_disk["training_rows"] == len(pd.read_parquet(train.path))
    assert on_disk["hyperparameters"]["n_estimators"] == 20
    kinds = {f["name"]: f["kind"] for f in on_disk["features"]}
    assert kinds["tenure_months"] == "numeric"
    assert kinds["plan"] == kinds["city"] == kinds["monthly_fee"] == "categorical"
    assert "churned" not in kinds
    # The artifact metadata carries a bounded summary for the Kubeflow UI and lineage.
    assert model.metadata["sha256"] == on_disk["sha256"]
    assert model.metadata["features"] == kinds
    assert model.metadata["feature_count"] == len(kinds)
    assert model.metadata["class_count"] == 2


def test_saved_pipeline_preprocesses_raw_rows_itself(messy_model):
    model, _, _ = messy_model
    estimator = joblib.load(pathlib.Path(model.path) / "model.joblib")
    rows = pd.DataFrame(
        {
            "customer_id": ["new-1", "new-2"],
            "plan": ["premium", "never-seen-plan"],
            "city": [np.nan, "Marseille"],
            "tenure_months": [np.nan, 3.0],
            "monthly_fee": ["40.0", np.nan],
            "paperless": ["yes", np.nan],
        },
        dtype=object,
    )
    rows["tenure_months"] = rows["tenure_months"].astype(float)
    proba = estimator.predict_proba(rows)
    assert proba.shape == (2, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert estimator.named_steps["classifier"].n_jobs == -1


def test_hyperparameters_reach_the_forest(tmp_path, messy_model):
    _, train, _ = messy_model
    model = model_artifact(tmp_path / "deep")
    chosen = {
        "n_estimators": 7.0,
        "max_depth": 3,
        "min_samples_leaf": 4,
        "class_weight": "balanced",
    }
    train_model.python_func(
        train=train, model=model, target_column="churned", hyperparameters=chosen, random_state=1
    )
    forest = joblib.load(pathlib.Path(model.path) / "model.joblib").named_steps["classifier"]
    assert len(forest.estimators_) == 7  # 7.0, as KFP passes whole numbers in dicts, works
    assert max(tree.get_depth() for tree in forest.estimators_) <= 3
    assert (forest.min_samples_leaf, forest.class_weight, forest.random_state) == (4, "balanced", 1)
    assert model.metadata["hyperparameters"]["n_estimators"] == 7


def test_same_seed_gives_the_same_model(tmp_path, messy_model):
    _, train, _ = messy_model
    digests = []
    for name in ("a", "b"):
        model = model_artifact(tmp_path / name)
        train_model.python_func(
            train=train, model=model, target_column="churned", hyperparameters={"n_estimators": 5}
        )
        digests.append(model.metadata["sha256"])
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"class_weight": "heavy"}, "class_weight must be one of"),
        ({"n_estimators": 0}, "n_estimators must be a whole number of at least 1"),
        ({"n_estimators": 2.5}, "n_estimators must be a whole number of at least 1, got 2.5"),
        ({"max_depth": -1}, "max_depth must be a whole number of at least 0"),
        ({"min_samples_leaf": 0}, "min_samples_leaf must be a whole number of at least 1"),
        ({"max_features": 2.0}, "max_features must be 'auto', 'sqrt', 'log2' or a share in"),
        ({"trees": 5}, r"unknown hyperparameter\(s\) \['trees'\]"),
    ],
)
def test_bad_hyperparameters(tmp_path, messy_model, option, message):
    _, train, _ = messy_model
    with pytest.raises(SystemExit, match=message):
        train_model.python_func(
            train=train,
            model=model_artifact(tmp_path / "m"),
            target_column="churned",
            hyperparameters=option,
        )
    assert not (tmp_path / "m").exists()


def test_table_without_features(tmp_path):
    path = tmp_path / "only_target"
    pd.DataFrame({"y": ["a", "b"]}).to_parquet(path)
    with pytest.raises(SystemExit, match="no feature columns besides 'y'"):
        train_model.python_func(
            train=dataset(path), model=model_artifact(tmp_path / "m"), target_column="y"
        )


def test_schema_describes_every_feature(messy_model):
    model, train, _ = messy_model
    on_disk = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    schema = {f["name"]: f for f in on_disk["features"]}
    frame = pd.read_parquet(train.path)

    tenure = schema["tenure_months"]
    assert tenure["missing_rate"] == pytest.approx(frame["tenure_months"].isna().mean(), abs=1e-6)
    assert (
        tenure["min"] == frame["tenure_months"].min()
        and tenure["max"] == frame["tenure_months"].max()
    )
    assert len(tenure["bin_shares"]) == len(tenure["bin_edges"]) + 1
    assert sum(tenure["bin_shares"]) == pytest.approx(1.0, abs=1e-5)  # shares are rounded

    plan = schema["plan"]
    assert plan["categories"] == frame["plan"].value_counts().to_dict()
    assert plan["unique"] == 3 and plan["other_count"] == 0


def test_excluded_columns_are_not_features(tmp_path, messy_model):
    _, train, _ = messy_model
    model = model_artifact(tmp_path / "m")
    train_model.python_func(
        train=train,
        model=model,
        target_column="churned",
        exclude_columns=["customer_id"],
        hyperparameters={"n_estimators": 3},
    )
    assert "customer_id" not in model.metadata["features"]
    assert model.metadata["excluded_columns"] == ["customer_id"]
