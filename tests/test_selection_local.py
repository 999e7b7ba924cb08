"""Sweep, leaderboard, blessing and export on the KFP local runner."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from pipelines import training_pipeline


@pytest.fixture
def xor_csv(tmp_path):
    """Only deep trees learn it: the class is whether x1 and x2 share a sign."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=400)})
    frame["y"] = np.where(x1 * x2 > 0, "same", "different")
    path = tmp_path / "xor.csv"
    frame.to_csv(path, index=False)
    return path


def run_dir(root: pathlib.Path, outputs) -> pathlib.Path:
    return pathlib.Path(outputs["model"].path).parent.parent


def test_the_sweep_picks_the_candidate_that_can_learn_the_data(local_runner, xor_csv, tmp_path):
    outputs = training_pipeline(
        data_uri=str(xor_csv),
        target_column="y",
        search_space=[
            {"max_depth": 1, "n_estimators": 30},
            {"model": "logistic_regression"},
            {"n_estimators": 30},
        ],
        export_uri=str(tmp_path / "serving"),
    ).outputs
    chosen = outputs["model"].metadata["hyperparameters"]
    if chosen["model"] == "ensemble":  # weak members may join with small weights: not the most
        chosen = max(chosen["members"], key=lambda member: member["weight"])
    assert chosen["model"] == "random_forest" and chosen["max_depth"] == 0
    assert outputs["metrics"].metadata["balanced_accuracy"] > 0.85

    folder = run_dir(local_runner, outputs)
    page = (folder / "train-model" / "leaderboard").read_text()
    assert "3 candidate(s) for 320 training rows, ranked by roc_auc" in page
    assert page.index('"max_depth": 0') < page.index('"max_depth": 1')  # the winner comes first
    assert not list(folder.glob("for-loop-*"))  # selection runs inside the one training step


def test_a_blessed_model_is_exported(local_runner, xor_csv, tmp_path):
    serving = tmp_path / "serving" / "xor"
    outputs = training_pipeline(
        data_uri=str(xor_csv), target_column="y", search_space=[{}], min_value=0.8,
        export_uri=str(serving),
    ).outputs  # fmt: skip
    (version,) = [path.name for path in serving.iterdir() if path.name != "pointer"]
    meta = json.loads((serving / version / "metadata.json").read_text())
    assert meta["sha256"] == outputs["model"].metadata["sha256"]
    described = json.loads((serving / version / "VERSION.json").read_text())
    assert described["data_uri"] == str(xor_csv) and described["run"]["id"]
    assert described["metrics"] == {
        name: value
        for name, value in outputs["metrics"].metadata.items()
        if not name.startswith("importance_")
    }
    assert any("beats it by enough" in reason for reason in described["blessing"])
    folder = run_dir(local_runner, outputs)
    assert (folder / "bless-model" / "decision").read_text().startswith("# Blessed")
    assert not list(folder.glob("record-rejection*"))
    (manifest,) = folder.glob("deploy-model*/manifest/inferenceservice.yaml")
    service = json.loads(manifest.read_text())
    assert service["spec"]["predictor"]["model"]["storageUri"] == f"{serving}/{version}/"
    assert service["metadata"]["annotations"]["kfp-tabular/model-version"] == version
    assert service["metadata"]["name"] == "tabular-model"


def test_a_model_under_the_threshold_is_not_exported(local_runner, xor_csv, tmp_path):
    serving = tmp_path / "serving"
    outputs = training_pipeline(
        data_uri=str(xor_csv), target_column="y", search_space=[{"max_depth": 1}], min_value=0.9,
        export_uri=str(serving),
    ).outputs  # fmt: skip
    assert not serving.exists()
    (note,) = run_dir(local_runner, outputs).glob("record-rejection*/note")
    assert "the minimum 0.9000" in note.read_text()


def test_a_model_worse_than_the_baseline_is_not_exported(local_runner, xor_csv, tmp_path):
    production = training_pipeline(
        data_uri=str(xor_csv), target_column="y", search_space=[{}]
    ).outputs["model"]
    serving = tmp_path / "serving"
    outputs = training_pipeline(
        data_uri=str(xor_csv), target_column="y", search_space=[{"max_depth": 1}],
        baseline_model_uri=production.path, export_uri=str(serving),
    ).outputs  # fmt: skip
    assert not serving.exists()
    folder = run_dir(local_runner, outputs)
    decision = (folder / "bless-model" / "decision").read_text()
    assert decision.startswith("# Not blessed") and ": worse" in decision
    assert "vs baseline" in next(folder.glob("record-rejection*/note")).read_text()
