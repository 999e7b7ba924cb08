"""train_model as a plain function: the model directory, its metadata, and the fitted pipeline."""

import json
import pathlib

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from kfp.dsl import HTML, Metrics

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


def fit(train, folder, search_space, **options):
    """Runs train_model with one leaderboard per call; returns the model artifact."""
    model = model_artifact(folder / "model")
    train_model.python_func(
        train=train, model=model, target_column=options.pop("target_column", "churned"),
        search_space=search_space,
        leaderboard=HTML(name="b", uri=str(folder / "board.html"), metadata={}),
        leaderboard_metrics=Metrics(name="m", uri=str(folder / "m"), metadata={}),
        **options,
    )  # fmt: skip
    return model


def test_hyperparameters_reach_the_forest(tmp_path, messy_model):
    _, train, _ = messy_model
    chosen = {
        "n_estimators": 7.0,
        "max_depth": 3,
        "min_samples_leaf": 4,
        "class_weight": "balanced",
    }
    model = fit(train, tmp_path, [chosen], random_state=1)
    forest = joblib.load(pathlib.Path(model.path) / "model.joblib").named_steps["classifier"]
    assert len(forest.estimators_) == 7  # 7.0, as KFP passes whole numbers in dicts, works
    assert max(tree.get_depth() for tree in forest.estimators_) <= 3
    assert (forest.min_samples_leaf, forest.class_weight, forest.random_state) == (4, "balanced", 1)
    assert model.metadata["hyperparameters"]["n_estimators"] == 7


def test_same_seed_gives_the_same_model(tmp_path, messy_model):
    _, train, _ = messy_model
    digests = []
    for name in ("a", "b"):
        model = fit(train, tmp_path / name, [{"n_estimators": 5}, {"model": "logistic_regression"}])
        digests.append(model.metadata["sha256"])
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    ("family", "estimator"),
    [
        ("random_forest", "RandomForestClassifier"),
        ("extra_trees", "ExtraTreesClassifier"),
        ("hist_gradient_boosting", "HistGradientBoostingClassifier"),
        ("logistic_regression", "LogisticRegression"),
    ],
)
def test_every_family_takes_raw_rows_with_gaps_and_new_categories(
    tmp_path, messy_model, family, estimator
):  # noqa: E501
    _, train, _ = messy_model
    model = fit(train, tmp_path, [{"model": family}])
    pipeline = joblib.load(pathlib.Path(model.path) / "model.joblib")
    assert type(pipeline.named_steps["classifier"]).__name__ == estimator
    assert model.metadata["hyperparameters"]["model"] == family
    rows = pd.DataFrame(
        {
            "customer_id": ["c-1", "c-2"],
            "plan": ["basic", "galactic"],  # a category never seen in training
            "city": [np.nan, "Lyon"],
            "tenure_months": [np.nan, 12.0],
            "monthly_fee": ["30.5", np.nan],
            "paperless": ["yes", np.nan],
        },
        dtype=object,
    )
    proba = pipeline.predict_proba(rows)
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_table_without_features(tmp_path):
    path = tmp_path / "only_target"
    pd.DataFrame({"y": ["a", "b"]}).to_parquet(path)
    with pytest.raises(SystemExit, match="no feature columns besides 'y'"):
        fit(dataset(path), tmp_path, [{}], target_column="y")


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
    model = fit(train, tmp_path, [{"n_estimators": 3}], exclude_columns=["customer_id"])
    assert "customer_id" not in model.metadata["features"]
    assert model.metadata["excluded_columns"] == ["customer_id"]


def test_gradient_boosting_takes_many_categories_and_empty_columns(tmp_path):
    rng = np.random.default_rng(0)
    rows = 1_200
    frame = pd.DataFrame(
        {
            "code": [f"c{i}" for i in rng.integers(0, 600, rows)],  # over 255 categories
            "blank": [np.nan] * rows,
            "x": rng.normal(size=rows),
        }
    )
    frame.loc[::7, "x"] = np.nan
    frame["y"] = np.where(frame["x"].fillna(0) > 0, "pos", "neg")
    frame.to_parquet(tmp_path / "train")
    model = fit(
        dataset(tmp_path / "train"),
        tmp_path,
        [{"model": "hist_gradient_boosting"}],
        target_column="y",
    )  # noqa: E501
    pipeline = joblib.load(pathlib.Path(model.path) / "model.joblib")
    rows_in = frame.drop(columns="y").head(50).astype({"code": object, "blank": object})
    assert (pipeline.predict(rows_in) == frame["y"].head(50)).mean() > 0.8


def test_medians_fitted_column_by_column_are_a_plain_scikit_learn_model(tmp_path):
    """Medians (issue 32): identical to SimpleImputer's own, saved with no class of ours."""
    import zlib

    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(3)
    rows = 600
    frame = pd.DataFrame(rng.normal(size=(rows, 3)).round(1), columns=["a", "b", "c"])
    frame.loc[rng.random(rows) < 0.2, "a"] = np.nan  # gaps: the median of the rest
    frame["c"] = np.nan  # a column of gaps only: 0 (keep_empty_features)
    frame["y"] = np.where(frame["b"] > 0, "pos", "neg")
    frame.to_parquet(tmp_path / "train")
    model = fit(
        dataset(tmp_path / "train"), tmp_path, [{"model": "hist_gradient_boosting"}],
        target_column="y",
    )  # fmt: skip
    saved = pathlib.Path(model.path) / "model.joblib"
    imputer = joblib.load(saved).named_steps["preprocess"].named_transformers_["numeric"][0]
    assert type(imputer) is SimpleImputer and imputer.strategy == "median"
    numbers = frame[["a", "b", "c"]]
    stock = SimpleImputer(strategy="median", keep_empty_features=True, add_indicator=True)
    assert np.array_equal(imputer.statistics_, stock.fit(numbers).statistics_)
    assert imputer.statistics_[0] == numbers["a"].median() and imputer.statistics_[2] == 0
    assert np.array_equal(imputer.transform(numbers), stock.transform(numbers))
    # The file names no class of ours (joblib's zlib stream holds the pickle as it is).
    pickled = zlib.decompress(saved.read_bytes())
    assert b"SimpleImputer" in pickled
    assert b"components" not in pickled and b"<locals>" not in pickled


def test_training_inputs_keep_categories_as_codes_of_the_same_text():
    """Categories (issue 32): codes that scikit-learn reads as select_features' text."""
    from components.features import select_features, training_inputs

    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, 3.0, 4.0],
            "plan": pd.Series(["a", "b", None, "a"], dtype="str"),
            "floor": [1.0, np.nan, 3.0, 1.5],  # 1.0 names the category "1"
            "mixed": pd.Series([1, "1", None, 2], dtype=object),  # 1 and "1": one category
        }
    )
    features = [{"name": "x", "kind": "numeric"}]
    features += [{"name": name, "kind": "categorical"} for name in ("plan", "floor", "mixed")]
    text, coded = select_features(frame, features, "t"), training_inputs(frame, features, "t")
    assert list(coded.columns) == list(text.columns)
    assert [str(dtype) for dtype in coded.dtypes] == ["float64"] + ["category"] * 3
    assert list(coded["mixed"].cat.categories) == ["1", "2"]
    for name in text.columns:
        assert repr(np.asarray(coded[name]).tolist()) == repr(np.asarray(text[name]).tolist())
