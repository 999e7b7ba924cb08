"""plan_candidates, cross_validate and select_candidate as plain functions."""

import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import cross_validate, plan_candidates, select_candidate
from tests.conftest import dataset


def xor_table(path, rows=400, seed=0):
    """A table only deep trees can learn: the class is whether x1 and x2 share a sign."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(-1, 1, rows), rng.uniform(-1, 1, rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=rows)})
    frame["y"] = np.where(x1 * x2 > 0, "same", "different")
    frame.to_parquet(path)
    return dataset(path)


def test_plan_completes_each_candidate_and_drops_duplicates():
    result = plan_candidates.python_func(
        search_space=[{}, {"max_depth": 4}, {}, {"n_estimators": 100}], n_estimators=100
    )
    assert result.sweep is True
    assert result.candidates == [
        {"n_estimators": 100, "max_depth": 0, "min_samples_leaf": 1, "class_weight": "none"},
        {"n_estimators": 100, "max_depth": 4, "min_samples_leaf": 1, "class_weight": "none"},
    ]


@pytest.mark.parametrize("space", [[], [{}], [{"max_depth": 3}]])
def test_one_candidate_means_no_sweep(space):
    assert plan_candidates.python_func(search_space=space).sweep is False


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([{"depth": 3}], r"entry 1 has unknown key\(s\) \['depth'\]"),
        ([{}, "deep"], "entry 2 is 'deep', not a dict"),
    ],
)
def test_bad_search_space(space, message):
    with pytest.raises(SystemExit, match=message):
        plan_candidates.python_func(search_space=space)


def test_cross_validation_scores_on_training_rows_by_folds(tmp_path):
    train = xor_table(tmp_path / "train")
    deep = cross_validate.python_func(
        train=train, target_column="y", hyperparameters={"n_estimators": 30}, folds=4
    )
    stump = cross_validate.python_func(
        train=train,
        target_column="y",
        hyperparameters={"n_estimators": 30, "max_depth": 1},
        folds=4,
    )
    assert deep["folds"] == 4 and len(deep["scores"]) == 4
    assert deep["mean"] == pytest.approx(np.mean(deep["scores"]), abs=1e-6)
    assert deep["mean"] > 0.85 > 0.7 > stump["mean"]
    assert deep["hyperparameters"]["max_depth"] == 0 and stump["hyperparameters"]["max_depth"] == 1
    assert deep["metric"] == "balanced_accuracy" and deep["fit_seconds"] > 0


def test_cross_validation_folds_shrink_to_the_smallest_class(tmp_path):
    path = tmp_path / "small"
    pd.DataFrame({"x": range(12), "y": ["a"] * 9 + ["b"] * 3}).to_parquet(path)
    result = cross_validate.python_func(
        train=dataset(path), target_column="y", hyperparameters={"n_estimators": 5}, folds=5
    )
    assert result["folds"] == 3


def test_cross_validation_refuses_an_unknown_metric(tmp_path):
    with pytest.raises(SystemExit, match="metric 'auc' is not a classification metric; use one of"):
        cross_validate.python_func(
            train=xor_table(tmp_path / "t"), target_column="y", hyperparameters={}, metric="auc"
        )


def select(results, tmp_path, candidates=()):
    board = HTML(name="leaderboard", uri=str(tmp_path / "board.html"), metadata={})
    metrics = Metrics(name="m", uri=str(tmp_path / "m"), metadata={})
    best = select_candidate.python_func(
        leaderboard=board, leaderboard_metrics=metrics, results=results, candidates=list(candidates)
    ).best
    return best, metrics.metadata, pathlib.Path(board.path).read_text()


def result(params, mean, std=0.01, metric="balanced_accuracy"):
    return {"hyperparameters": params, "metric": metric, "mean": mean, "std": std,
            "scores": [mean], "fit_seconds": 0.5, "folds": 3}  # fmt: skip


def test_the_best_mean_wins_and_the_leaderboard_ranks_everyone(tmp_path):
    results = [
        result({"max_depth": 1}, 0.55),
        result({"max_depth": 0}, 0.93),
        result({"max_depth": 4}, 0.81),
    ]
    best, metrics, page = select(results, tmp_path)
    assert best == {"max_depth": 0}
    assert metrics == {"candidates": 3, "best_mean": 0.93, "best_std": 0.01, "runner_up_mean": 0.81}
    assert page.index("0.9300 ± 0.0100") < page.index("0.8100") < page.index("0.5500")


def test_lower_log_loss_wins_and_ties_go_to_the_steadier_candidate(tmp_path):
    by_loss = [result({"a": 1}, 0.40, metric="log_loss"), result({"a": 2}, 0.30, metric="log_loss")]
    assert select(by_loss, tmp_path)[0] == {"a": 2}
    tied = [result({"a": 1}, 0.9, std=0.05), result({"a": 2}, 0.9, std=0.01)]
    assert select(tied, tmp_path)[0] == {"a": 2}


def test_no_results_means_the_single_candidate(tmp_path):
    best, metrics, page = select([], tmp_path, candidates=[{"n_estimators": 10}])
    assert best == {"n_estimators": 10} and metrics["candidates"] == 1
    assert "A single candidate: no sweep." in page
