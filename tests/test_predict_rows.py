"""Few rows are scored by walking the fitted model (``predict_rows``): the model's own figures.

The walk replaces scikit-learn's per-part dispatch (Pipelines,
ColumnTransformers, FeatureUnions, votes, a forest's trees) for requests of
at most 100 rows, the serving path (issue 31). Its figures must be the
model's own, bit for bit, for every family, a vote, a tuned threshold and a
log-target regressor, and it must cover the default ensemble's parts (or it
saves nothing).
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.ensemble._forest import ForestClassifier
from sklearn.pipeline import FeatureUnion

from components.features import build_model, infer_features, select_features
from components.scoring import predict_rows, share_identical_parts, single_threaded
from components.training_options import with_threshold
from tests.conftest import make_messy_frame, make_messy_regression_frame


def with_notes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Adds a free-text column, so the models hold a text FeatureUnion."""
    rng = np.random.default_rng(seed)
    words = ["late", "fee", "happy", "moved", "call", "agent", "billing", "upgrade", "router"]
    frame["note"] = [" ".join(rng.choice(words, 6)) + f" #{i}" for i in range(len(frame))]
    return frame


def fitted(frame, target, task, space):
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    features = infer_features(frame, target, exclude_columns=[frame.columns[0]])
    inputs = select_features(frame, features, "rows")
    labels = frame[target].str.strip() if task == "classification" else frame[target]
    pipelines = [
        (f"m{i}", build_model(features, settings, 0, task, rows=len(frame))[0])
        for i, settings in enumerate(space)
    ]
    if len(pipelines) == 1:
        model = pipelines[0][1].fit(inputs, labels)
    elif task == "classification":
        model = VotingClassifier(pipelines, voting="soft", weights=[3, 2, 1][: len(space)])
        model = model.fit(inputs, labels)
    else:
        model = VotingRegressor(pipelines, weights=[2, 1]).fit(inputs, labels)
    return model, inputs


DEFAULT = [{"model": "linear"}, {"model": "hist_gradient_boosting"}, {"min_samples_leaf": 5}]
CASES = {
    "default ensemble": ("classification", DEFAULT),
    "random_forest": ("classification", [{"model": "random_forest"}]),
    "extra_trees": ("classification", [{"model": "extra_trees"}]),
    "linear": ("classification", [{"model": "linear"}]),
    "logistic_regression": ("classification", [{"model": "logistic_regression"}]),
    "tuned threshold": ("classification", [{"model": "random_forest"}]),
    "regression vote": ("regression", [{"model": "hist_gradient_boosting"}, {"model": "ridge"}]),
    "log target": ("regression", [{"model": "hist_gradient_boosting", "target_transform": "log"}]),
}


@pytest.mark.parametrize("case", CASES)
def test_walked_figures_are_the_models_own(case):
    task, space = CASES[case]
    if task == "classification":
        frame, target = with_notes(make_messy_frame(300, 1), 1), "churned"
    else:
        frame, target = with_notes(make_messy_regression_frame(300, 1), 1), "price"
    model, inputs = fitted(frame, target, task, space)
    if case == "tuned threshold":
        labels = frame.dropna(subset=[target])[target].str.strip().reset_index(drop=True)
        model = with_threshold(model, 0.3, inputs, labels)
    single_threaded(model)  # a forest's threads add its trees up in any order
    method = "predict_proba" if task == "classification" else "predict"
    for rows in (inputs.head(1), inputs.head(100)):
        walked = predict_rows(model, rows, method)
        assert np.array_equal(walked, getattr(model, method)(rows)), case


def test_the_default_ensemble_is_walked_through_and_not_dispatched():
    frame = with_notes(make_messy_frame(300, 1), 1)
    model, inputs = fitted(frame, "churned", "classification", DEFAULT)
    single_threaded(model)
    expected = model.predict_proba(inputs.head(1))

    def dispatched(*args, **kwargs):
        raise AssertionError("scikit-learn's own dispatch was used")

    # The vote, each member's ColumnTransformer, their text FeatureUnions, the forest.
    model.predict_proba = dispatched
    patched = []
    for member in model.estimators_:
        member.predict_proba = member[0].transform = dispatched
        for _, part, _ in member[0].transformers_:
            for step in getattr(part, "steps", []):
                if isinstance(step[1], FeatureUnion):
                    step[1].transform = dispatched
                    patched.append("text")
        if isinstance(member[-1], ForestClassifier):
            member[-1].predict_proba = dispatched
            patched.append("forest")
    assert sorted(patched) == ["forest", "text", "text", "text"]
    assert np.array_equal(predict_rows(model, inputs.head(1), "predict_proba"), expected)


def test_shared_parts_give_the_same_figures():
    frame = with_notes(make_messy_frame(300, 1), 1)
    model, inputs = fitted(frame, "churned", "classification", DEFAULT)
    single_threaded(model)
    expected = [model.predict_proba(inputs.head(n)) for n in (1, 100)]
    # The three members' text FeatureUnions at least: fitted on the same rows.
    assert share_identical_parts(model) >= 2
    texts = {id(part) for member in model.estimators_ for name, part, _ in member[0].transformers_
             if name.startswith("text")}  # fmt: skip
    assert len(texts) == 1
    for rows, own in zip((inputs.head(1), inputs.head(100)), expected, strict=True):
        assert np.array_equal(predict_rows(model, rows, "predict_proba"), own)
