"""Shared fixtures: generated and bundled datasets, artifacts on tmp_path, the local runner."""

import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest
from kfp import local
from kfp.dsl import Dataset, Model

from components import load_data, split_data, train_model
from pipelines.cli import kfp_runner_state_restored


def make_messy_frame(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A realistic messy table: IDs, text categories, gaps, '?' in a numeric column, string labels.

    The label depends on ``plan``, ``tenure_months`` and ``monthly_fee`` so a
    model can learn it; some labels are missing or padded with spaces.
    """
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium"], rows)
    tenure = rng.integers(1, 72, rows).astype(float)
    fee = np.round(rng.normal(50, 15, rows), 2)
    score = (plan == "premium") * 1.5 + (tenure < 12) * -1.2 + (fee > 60) * -0.8
    label = np.where(score + rng.normal(0, 0.5, rows) > 0, "stay", "churn")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(rows)],
            "plan": plan,
            "city": rng.choice(["Paris", "Lyon", "Lille", "Nantes", None], rows),
            "tenure_months": tenure,
            "monthly_fee": fee.astype(object),
            "paperless": rng.choice(["yes", "no"], rows),
            "churned": label.astype(object),
        }
    )
    frame.loc[rng.choice(rows, rows // 10, replace=False), "tenure_months"] = np.nan
    frame.loc[rng.choice(rows, rows // 20, replace=False), "monthly_fee"] = "?"
    frame.loc[rng.choice(rows, rows // 25, replace=False), "churned"] = None
    padded = rng.choice(rows, rows // 10, replace=False)
    frame.loc[padded, "churned"] = frame.loc[padded, "churned"].map(
        lambda v: f" {v} " if isinstance(v, str) else v
    )
    return frame


@pytest.fixture(scope="module")
def s3_server():
    """A real S3 API server on loopback (moto, as s3fs tests itself), one per test module.

    The AWS_* variables point at it for the module; tests make buckets of their own
    (or reset it, ``POST /moto-api/reset``).
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }.items():
            patch.setenv(name, value)
        yield endpoint
    server.stop()


STORAGE_INITIALIZER = (
    pathlib.Path(__file__).resolve().parent.parent / ".venv-kserve-storage" / "bin" / "python"
)


def kserve_download(uri: str, folder: pathlib.Path, env: dict) -> list:
    """Runs KServe's storage initializer code (kserve_storage.Storage.download) on ``uri``."""
    assert STORAGE_INITIALIZER.exists(), "run `make storage-init-env` first"
    done = subprocess.run(
        [
            str(STORAGE_INITIALIZER),
            "-c",
            "import sys; from kserve_storage import Storage; Storage.download(*sys.argv[1:])",
            uri,
            str(folder),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def messy_csv(tmp_path) -> pathlib.Path:
    path = tmp_path / "customers.csv"
    make_messy_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def iris_csv(tmp_path) -> pathlib.Path:
    """scikit-learn's bundled iris table with the species names as labels."""
    from sklearn.datasets import load_iris

    dataset = load_iris(as_frame=True)
    frame = dataset.frame
    frame["target"] = frame["target"].map(dict(enumerate(dataset.target_names)))
    path = tmp_path / "iris.csv"
    frame.rename(columns={"target": "species"}).to_csv(path, index=False)
    return path


def dataset(path) -> Dataset:
    """A Dataset artifact at ``path``; its folder is created, as the KFP executor does."""
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Dataset(name="data", uri=str(path), metadata={})


def model_artifact(path) -> Model:
    """A Model artifact at ``path``; its folder is created, as the KFP executor does."""
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Model(name="model", uri=str(path), metadata={})


def train_on_csv(
    csv: pathlib.Path,
    target: str,
    folder: pathlib.Path,
    exclude_columns=(),
    search_space=None,
    **hyperparameters,
):
    """Runs load, split and train as plain functions; returns (model, train, test) artifacts.

    Without ``search_space``, one 20-tree random forest with ``hyperparameters``.
    """
    from kfp.dsl import HTML, Metrics

    cleaned, train, test = (
        dataset(folder / "cleaned"),
        dataset(folder / "train"),
        dataset(folder / "test"),
    )
    model = model_artifact(folder / "model")
    load_data.python_func(raw=dataset(csv), cleaned=cleaned, target_column=target)
    split_data.python_func(data=cleaned, train=train, test=test, target_column=target)
    train_model.python_func(
        train=train,
        model=model,
        target_column=target,
        exclude_columns=list(exclude_columns),
        search_space=search_space or [{"n_estimators": 20, **hyperparameters}],
        leaderboard=HTML(name="leaderboard", uri=str(folder / "leaderboard.html"), metadata={}),
        leaderboard_metrics=Metrics(name="board", uri=str(folder / "board"), metadata={}),
    )
    return model, train, test


def evaluate(model, test, folder: pathlib.Path):
    """Runs evaluate_model as a plain function; returns (metrics, classification metrics, page)."""
    from kfp.dsl import HTML, ClassificationMetrics, Metrics

    from components import evaluate_model

    metrics = Metrics(name="metrics", uri=str(folder / "metrics"), metadata={})
    classification = ClassificationMetrics(name="c", uri=str(folder / "c"), metadata={})
    report = HTML(name="report", uri=str(folder / "report.html"), metadata={})
    trivial = Metrics(name="trivial", uri=str(folder / "trivial"), metadata={})
    evaluate_model.python_func(
        model=model, test=test, metrics=metrics, classification_metrics=classification,
        trivial_metrics=trivial, report=report,
    )  # fmt: skip
    assert trivial.metadata.keys() <= metrics.metadata.keys()
    return metrics.metadata, classification.metadata, pathlib.Path(report.path).read_text()


def trivial_metrics(model, test):
    """The trivial model's test metrics, as evaluate_model logs them for bless_model."""
    import json

    from kfp.dsl import Metrics

    from components.tasks import trivial_scores

    meta = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    truth = pd.read_parquet(test.path)[meta["target_column"]].to_numpy()
    return Metrics(name="trivial", uri="", metadata=trivial_scores(meta, truth))


@pytest.fixture
def messy_model(tmp_path, messy_csv):
    """A model trained on the messy table, with its train and test artifacts."""
    return train_on_csv(messy_csv, "churned", tmp_path / "trained")


@pytest.fixture
def local_runner(tmp_path) -> pathlib.Path:
    """Initialises the KFP local subprocess runner with a pipeline root under tmp_path."""
    root = tmp_path / "pipeline_root"
    local.init(local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with kfp_runner_state_restored():
        yield root


def make_messy_regression_frame(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """A messy table with a price to predict: an ID, text categories, gaps, whole-number prices.

    The price depends on ``area``, ``quality`` and ``district`` (with noise), in whole
    dollars, so it is integer-valued with many distinct values: a regression target.
    """
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 200, rows).round(1)
    quality = rng.choice(["poor", "fair", "good", "excellent"], rows)
    district = rng.choice(["north", "south", "east", "west", None], rows)
    bonus = pd.Series(quality).map({"poor": 0, "fair": 20000, "good": 45000, "excellent": 90000})
    price = 1500 * area + bonus.to_numpy() + (district == "north") * 30000
    price = np.round(price + rng.normal(0, 15000, rows)).astype(int)
    frame = pd.DataFrame(
        {
            "listing_id": [f"L{500000 + i}" for i in range(rows)],
            "area": area,
            "quality": quality,
            "district": district,
            "built": rng.integers(1950, 2024, rows),
            "price": price,
        }
    )
    frame.loc[rng.choice(rows, rows // 10, replace=False), "area"] = np.nan
    frame.loc[rng.choice(rows, rows // 25, replace=False), "price"] = None
    return frame


@pytest.fixture
def diabetes_csv(tmp_path) -> pathlib.Path:
    """scikit-learn's bundled diabetes table: a continuous disease-progression target."""
    from sklearn.datasets import load_diabetes

    path = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    return path
