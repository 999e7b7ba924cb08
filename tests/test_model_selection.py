"""Model families and the selection in train_model, as plain functions."""

import json
import pathlib
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import train_model
from components.families import check_candidate, model_families
from components.selection import halving_rounds
from tests.conftest import dataset, model_artifact


def xor_table(path, rows=400, seed=0):
    """A table only deep trees can learn: the class is whether x1 and x2 share a sign."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(-1, 1, rows), rng.uniform(-1, 1, rows)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=rows)})
    frame["y"] = np.where(x1 * x2 > 0, "same", "different")
    frame.to_parquet(path)
    return dataset(path)


def diagonal_table(path, rows=400, seed=0):
    """A table a line separates and a one-split tree cannot: the class is the sign of x1 + x2."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.normal(size=rows)})
    frame["y"] = np.where(frame["x1"] + frame["x2"] > 0, "up", "down")
    frame.to_parquet(path)
    return dataset(path)


def train(train_set, tmp_path, space, **options):
    """Runs train_model; returns (model metadata, leaderboard entries, leaderboard metrics)."""
    model = model_artifact(tmp_path / "model")
    board = HTML(name="leaderboard", uri=str(tmp_path / "leaderboard.html"), metadata={})
    metrics = Metrics(name="m", uri=str(tmp_path / "m"), metadata={})
    options.setdefault("target_column", "y")
    train_model.python_func(
        train=train_set, model=model, leaderboard=board, leaderboard_metrics=metrics,
        search_space=space, **options,
    )  # fmt: skip
    page = pathlib.Path(board.path).read_text()
    data = re.search(r'<script type="application/json" id="leaderboard">(.*?)</script>', page, re.S)
    entries = json.loads(data.group(1).replace("<\\/", "</"))
    meta = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    return meta, entries, metrics.metadata


@pytest.mark.parametrize(
    ("count", "rows", "plan"),
    [
        (1, 100_000, [100_000]),
        (2, 100_000, [33_333, 100_000]),  # scored on a third; the winner fitted on all
        (3, 90_000, [30_000, 90_000]),
        (4, 100_000, [11_111, 33_333, 100_000]),
        (10, 90_000, [10_000, 30_000, 90_000]),  # the first round keeps 10,000 rows
        (2, 19_000, [19_000]),  # small: every candidate scored on every row
        (10, 500, [500]),
    ],
)
def test_halving_rounds(count, rows, plan):
    assert halving_rounds(count, rows) == plan


def test_a_candidate_is_completed_with_its_family_defaults():
    assert check_candidate({}, "classification")["model"] == "random_forest"
    boosted = check_candidate(
        {"model": "hist_gradient_boosting", "max_iter": 50.0}, "regression"
    )  # KFP hands whole numbers over as floats
    assert boosted == {
        "model": "hist_gradient_boosting",
        **model_families()["hist_gradient_boosting"]["defaults"],
        "max_iter": 50,
        "target_transform": "none",  # regression only
    }
    assert isinstance(boosted["max_iter"], int)


@pytest.mark.parametrize(
    ("given", "rows", "drawn"),
    [
        ({}, 100_000, None),  # up to 100,000 rows: every tree draws them all, as before
        ({}, 100_001, 100_000),
        ({"max_samples": 0}, 5_000_000, None),  # 0: all rows, however many
        ({"max_samples": 5000.0}, 4000, None),
        ({"max_samples": 5000.0}, 6000, 5000),
    ],
)
def test_a_forest_draws_at_most_100000_rows_a_tree_unless_told(given, rows, drawn):
    from components.families import forest_samples, make_estimator

    settings = check_candidate(given, "classification")
    assert forest_samples(settings, rows) == drawn
    forest = make_estimator(settings, "classification", 0, rows=rows)
    assert forest.max_samples == drawn
    with pytest.raises(SystemExit, match="max_samples must be a whole number of at least 0"):
        check_candidate({"max_samples": -1}, "classification")


@pytest.mark.parametrize(
    ("candidate", "task", "message"),
    [
        ({"model": "xgboost"}, "classification", "model 'xgboost' is not one of"),
        (
            {"model": "ridge"},
            "classification",
            "ridge is for regression only; for classification use logistic_regression",
        ),  # noqa: E501
        ({"model": "logistic_regression"}, "regression", "for regression use ridge"),
        (
            {"model": "ridge", "n_estimators": 5},
            "regression",
            r"\['n_estimators'\] do not apply to ridge",
        ),  # noqa: E501
        (
            {"n_estimators": 0},
            "classification",
            "n_estimators must be a whole number of at least 1",
        ),  # noqa: E501
        ({"max_depth": True}, "classification", "max_depth must be a whole number"),
        (
            {"model": "hist_gradient_boosting", "learning_rate": 0},
            "classification",
            "learning_rate must be a number above 0",
        ),  # noqa: E501
        (
            {"model": "ridge", "alpha": "big"},
            "regression",
            "alpha must be a number above 0, got 'big'",
        ),  # noqa: E501
        ({"class_weight": "heavy"}, "classification", "class_weight must be one of"),
        ({"class_weight": "balanced"}, "regression", "class_weight applies to classification only"),  # noqa: E501
        ({"max_features": 2.0}, "classification", "max_features must be 'auto', 'sqrt', 'log2'"),
        (
            {"model": "hist_gradient_boosting", "max_iter": "many"},
            "classification",
            "max_iter must be a whole number of at least 1 or 'auto', got 'many'",
        ),
        (
            {"model": "logistic_regression", "max_iter": "auto"},
            "classification",
            "max_iter must be a whole number of at least 1, got 'auto'",
        ),
        ("deep", "classification", "is 'deep', not a dict"),
    ],
)
def test_bad_candidates_are_named_with_the_fix(candidate, task, message):
    with pytest.raises(SystemExit, match=message):
        check_candidate(candidate, task, "search_space entry 2")


@pytest.mark.parametrize(("rows", "cap"), [(400, 100), (12_000, 1000)])
def test_boosting_iterations_grow_with_the_rows_where_early_stopping_ends_them(tmp_path, rows, cap):
    meta, entries, _ = train(
        xor_table(tmp_path / "train", rows=rows), tmp_path, [{"model": "hist_gradient_boosting"}]
    )
    assert meta["hyperparameters"]["max_iter"] == "auto"
    boosting = joblib.load(tmp_path / "model" / "model.joblib")[-1]
    assert boosting.max_iter == cap and meta["iterations_run"] == boosting.n_iter_
    assert entries[0]["iterations_run"] == boosting.n_iter_  # the leaderboard says so too
    if rows > 10_000:  # scikit-learn stops early there: the cap is not reached
        assert boosting.do_early_stopping_ and 10 < boosting.n_iter_ < cap
    else:
        assert not boosting.do_early_stopping_ and boosting.n_iter_ == cap


def test_the_leaderboard_shows_the_iterations_each_boosting_candidate_ran(tmp_path):
    space = [{"max_depth": 2}, {"model": "hist_gradient_boosting", "max_iter": 40}]
    meta, entries, _ = train(xor_table(tmp_path / "train"), tmp_path, space)
    boosting = next(e for e in entries if e["model"] == "hist_gradient_boosting")
    forest = next(e for e in entries if e["model"] == "random_forest")
    assert boosting["iterations_run"] == 40 and "iterations_run" not in forest
    assert "; 40 iterations run" in (tmp_path / "leaderboard.html").read_text()


def test_the_forest_that_wins_is_the_fit_that_scored_it(tmp_path):
    train_set = xor_table(tmp_path / "train")
    space = [{"max_depth": 1}, {}, {"model": "logistic_regression"}, {}]  # a duplicate
    # Ranked by balanced accuracy: on ROC AUC (auto for two classes) the weak
    # candidates' probabilities break the forest's ties and join it in an ensemble.
    meta, entries, metrics = train(train_set, tmp_path, space, selection_metric="balanced_accuracy")
    assert meta["hyperparameters"]["model"] == "random_forest"
    assert meta["hyperparameters"]["max_depth"] == 0
    assert [e["rank"] for e in entries] == [1, 2, 3]  # the duplicate is tried once
    best = entries[0]
    assert best["scored_by"] == "out-of-bag" and best["rows"] == meta["training_rows"] == 400
    assert "refit_seconds" not in best  # kept, not refitted
    assert best["score"] > 0.85 > 0.7 > max(e["score"] for e in entries[1:])
    assert {e["model"] for e in entries} == {"random_forest", "logistic_regression"}
    assert metrics["candidates"] == 3 and metrics["best_score"] == best["score"]
    assert metrics["runner_up_score"] == entries[1]["score"]
    assert all(e["fit_seconds"] > 0 and e["spread"] >= 0 for e in entries)
    page = (tmp_path / "leaderboard.html").read_text()
    assert page.count("<svg") == 1 and "<figcaption>Score and cost of each candidate" in page


def test_a_winner_scored_on_held_out_rows_is_refitted_on_every_row(tmp_path):
    train_set = diagonal_table(tmp_path / "train")
    space = [{"max_depth": 1, "n_estimators": 30}, {"model": "logistic_regression"}]
    meta, entries, _ = train(train_set, tmp_path, space)
    # The line wins alone or, by more than its standard error, as the heavier
    # member of an ensemble with the forest: either way it is refitted on every row.
    chosen = meta["hyperparameters"]
    assert chosen["model"] == "logistic_regression" or (
        chosen["model"] == "ensemble" and chosen["members"][0]["model"] == "logistic_regression"
    )
    line = next(e for e in entries if e["model"] == "logistic_regression")
    assert line["scored_by"] == "3-fold cross-validation"  # under 10,000 rows
    assert line["refit_seconds"] > 0 and line["score"] > 0.95
    assert entries[-1]["scored_by"] == "out-of-bag"


def test_successive_halving_keeps_the_best_third_for_more_rows(tmp_path):
    train_set = xor_table(tmp_path / "train", rows=30_000)
    space = [
        {"n_estimators": 25, "max_depth": 8},
        {"n_estimators": 25, "max_depth": 1},
        {"n_estimators": 25, "max_depth": 2},
        {"model": "logistic_regression"},
        {"model": "hist_gradient_boosting", "max_iter": 20},
    ]
    meta, entries, _ = train(train_set, tmp_path, space)
    entries = [e for e in entries if e["model"] != "ensemble"]  # the last round's, combined
    rounds = [(e["round"], e["rows"]) for e in entries]
    assert rounds == [(2, 30_000), (2, 30_000), (1, 10_000), (1, 10_000), (1, 10_000)]
    assert {e["model"] for e in entries[:2]} == {"random_forest", "hist_gradient_boosting"}
    assert entries[2]["score"] >= max(e["score"] for e in entries[3:])
    assert meta["training_rows"] == 30_000


def test_the_one_candidate_left_is_fitted_on_every_row_without_scoring_again(tmp_path):
    train_set = xor_table(tmp_path / "train", rows=30_000)
    space = [{"model": "logistic_regression"}, {"model": "hist_gradient_boosting", "max_iter": 20}]
    meta, entries, _ = train(train_set, tmp_path, space)
    assert [(e["model"], e["round"], e["rows"]) for e in entries] == [
        ("hist_gradient_boosting", 1, 10_000),  # chosen on a third of the rows
        ("logistic_regression", 1, 10_000),
    ]
    assert entries[0]["scored_by"] == "held-out fifth" and entries[0]["refit_seconds"] > 0
    assert meta["hyperparameters"]["model"] == "hist_gradient_boosting"
    assert meta["training_rows"] == 30_000


def test_lower_is_better_for_a_loss(tmp_path):
    train_set = xor_table(tmp_path / "train")
    space = [{"model": "logistic_regression"}, {"n_estimators": 30}]
    _, entries, _ = train(train_set, tmp_path, space, selection_metric="log_loss")
    assert entries[0]["model"] == "random_forest"
    assert entries[0]["score"] < entries[1]["score"]


def test_one_candidate_is_fitted_without_scoring(tmp_path):
    meta, entries, metrics = train(xor_table(tmp_path / "train"), tmp_path, [{"n_estimators": 7}])
    assert meta["hyperparameters"]["n_estimators"] == 7
    assert entries[0]["score"] is None and "not scored" in entries[0]["scored_by"]
    assert metrics["candidates"] == 1 and "best_score" not in metrics
    assert "<svg" not in (tmp_path / "leaderboard.html").read_text()  # nothing to compare


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ([{}, {"model": "ridge"}], "search_space entry 2: ridge is for regression only"),
        ([{"depth": 3}], r"search_space entry 1: \['depth'\] do not apply to random_forest"),
    ],
)
def test_a_bad_search_space_stops_before_any_fit(tmp_path, space, message):
    with pytest.raises(SystemExit, match=message):
        train(xor_table(tmp_path / "train"), tmp_path, space)
    assert not (tmp_path / "model").exists()


def test_an_unknown_selection_metric_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="selection_metric 'auc' is not a classification metric"):
        train(xor_table(tmp_path / "train"), tmp_path, [{}, {}], selection_metric="auc")


@pytest.mark.parametrize(
    ("classes", "metric"), [(["no", "yes"], "roc_auc"), (["a", "b", "c"], "balanced_accuracy")]
)
def test_auto_ranks_two_classes_by_roc_auc_and_more_by_balanced_accuracy(tmp_path, classes, metric):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300)})
    frame["y"] = np.array(classes)[np.digitize(frame["x"], [-0.5, 0.5][: len(classes) - 1])]
    frame.to_parquet(tmp_path / "train")
    _, _, numbers = train(
        dataset(tmp_path / "train"), tmp_path, [{"n_estimators": 30}, {"model": "linear"}]
    )
    page = (tmp_path / "leaderboard.html").read_text()
    assert f"for 300 training rows, ranked by {metric}" in page
    assert 0.8 < numbers["best_score"] <= 1.0
