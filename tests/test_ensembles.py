"""Greedy ensemble selection: close candidates combined into one stock voting estimator."""

import pathlib
import subprocess

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from components.ensembles import greedy_weights
from components.selection import score_with_spread
from pipelines.serving_check import check_serving
from tests.conftest import dataset
from tests.test_model_selection import train

ROOT = pathlib.Path(__file__).resolve().parent.parent


def two_part_table(rows: int, seed: int, task: str) -> pd.DataFrame:
    """Half the rows follow a line in x1..x4, the other half steps in x5.

    A line fits the first half and not the steps; a forest fits the steps and
    only roughly the line: each family wins on its own part of the rows.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    smooth = rng.random(rows) < 0.5
    x[smooth, 4], x[~smooth, :4] = 0.0, 0.0
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(1, 6)])
    value = x[:, :4].sum(axis=1) + 2.0 * np.sign(np.sin(3 * x[:, 4]))
    if task == "regression":
        frame["y"] = value + rng.normal(scale=0.1, size=rows)
    else:
        frame["y"] = np.where(value > 0, "yes", "no")
    return frame


def test_weights_are_never_worse_than_the_best_candidate():
    truth = np.array([0.0, 1.0, 2.0, 3.0])
    perfect, biased = truth.copy(), truth + 1.0
    counts, score = greedy_weights([biased, perfect], truth, None, "rmse", score_with_spread)
    assert counts == [0, 1] and score == 0  # any share of the other would be worse
    low, high = truth - 1.0, truth + 1.0  # each off by 1, in opposite directions
    counts, score = greedy_weights([low, high], truth, None, "rmse", score_with_spread)
    assert counts[0] == counts[1] and score == pytest.approx(0)


@pytest.mark.parametrize(
    ("task", "line"), [("regression", "ridge"), ("classification", "logistic_regression")]
)
def test_the_ensemble_beats_both_members_on_new_rows(tmp_path, task, line):
    two_part_table(600, 0, task).to_parquet(tmp_path / "train")
    space = [{"model": line}, {"min_samples_leaf": 5}]
    meta, entries, _ = train(dataset(tmp_path / "train"), tmp_path, space, task=task)

    assert meta["hyperparameters"]["model"] == "ensemble"
    members = meta["hyperparameters"]["members"]
    assert {m["model"] for m in members} == {line, "random_forest"}
    assert sum(m["weight"] for m in members) == pytest.approx(1, abs=1e-3)
    assert entries[0]["model"] == "ensemble" and entries[0]["rank"] == 1
    assert entries[0]["score"] > max(e["score"] for e in entries[1:])
    assert all(e["weight"] > 0 for e in entries[1:])  # the leaderboard shows each weight
    page = (tmp_path / "leaderboard.html").read_text()
    assert '<td class="text">ensemble</td>' in page and "in the ensemble</td>" in page

    model = joblib.load(tmp_path / "model" / "model.joblib")
    voting = model[-1]
    kind = "VotingRegressor" if task == "regression" else "VotingClassifier"
    assert type(voting).__name__ == kind
    test = two_part_table(2000, 1, task)
    rows = test.drop(columns="y")

    def score(estimator):
        if task == "regression":
            return r2_score(test["y"], estimator.predict(rows))
        return roc_auc_score(test["y"] == "yes", estimator.predict_proba(rows)[:, 1])

    alone = [score(member) for member in voting.estimators_]
    assert score(model) > max(alone)


def test_the_saved_ensemble_loads_and_serves_without_our_code(tmp_path):
    two_part_table(600, 0, "classification").to_parquet(tmp_path / "train")
    space = [{"model": "logistic_regression"}, {"min_samples_leaf": 5}]
    meta, _, _ = train(dataset(tmp_path / "train"), tmp_path, space)
    assert meta["hyperparameters"]["model"] == "ensemble"
    rows_csv = tmp_path / "rows.csv"
    two_part_table(30, 2, "classification").drop(columns="y").to_csv(rows_csv, index=False)

    # The serving environment holds scikit-learn and pandas, and none of this project.
    python = ROOT / ".venv-serving" / "bin" / "python"
    script = (
        "import joblib, pandas as pd, sys; m = joblib.load(sys.argv[1]);"
        "print(type(m[-1]).__name__, len(m.predict_proba(pd.read_csv(sys.argv[2]))))"
    )
    model_file = tmp_path / "model" / "model.joblib"
    done = subprocess.run(
        [python, "-I", "-c", script, model_file, rows_csv], capture_output=True, text=True
    )
    assert done.stdout.split() == ["VotingClassifier", "30"], done.stderr[-2000:]

    result = check_serving(tmp_path / "model", rows_csv)  # the real MLServer, against batch_predict
    assert result["rows"] == 30 and result["predictions_equal"]
    assert result["max_abs_difference"] <= 1e-9
