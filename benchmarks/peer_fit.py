"""Fits one peer on a benchmark table's training rows and scores it on its test rows.

Usage: <peer python> benchmarks/peer_fit.py {lightgbm,autogluon} TRAIN.csv TEST.csv TARGET TASK \
       [OUT.json]

Run with the peer's own Python (``.venv-peers/<peer>``), never ours. TASK is
``classification`` or ``regression``, as our pipeline decided it. Prints one
JSON line: ``{"score": ..., "metric": ..., "fit_seconds": ...}``. The metric:
ROC AUC for two classes, accuracy for more, r2 for regression. With OUT.json,
also writes what was scored on each test row (the positive class's probability,
the class, or the number), for the benchmark's paired bootstrap.

* lightgbm: ``LGBMClassifier()`` / ``LGBMRegressor()`` with their defaults,
  text columns as pandas categories (the test rows use the training rows'
  categories);
* autogluon: ``TabularPredictor(...).fit(presets="medium_quality")``, told the
  metric, in a temporary folder.
"""

import json
import sys
import tempfile
import time


def metric_for(task, classes):
    """The benchmark's metric for a task and its number of classes."""
    if task == "regression":
        return "r2"
    return "roc_auc" if classes == 2 else "accuracy"


def score(metric, truth, predicted, positive_probability):
    """The metric on the test rows."""
    from sklearn import metrics

    if metric == "r2":
        return metrics.r2_score(truth, predicted)
    if metric == "accuracy":
        return metrics.accuracy_score(truth, predicted)
    return metrics.roc_auc_score(truth, positive_probability)


def fit_lightgbm(train, test, target, task, metric):
    """LightGBM's defaults; returns (predictions, positive-class probabilities)."""
    import lightgbm
    import pandas as pd

    inputs, held = train.drop(columns=target), test.drop(columns=target)
    for name in inputs.columns:
        if not pd.api.types.is_numeric_dtype(inputs[name]) or inputs[name].dtype == bool:
            inputs[name] = inputs[name].astype(str).astype("category")
            held[name] = pd.Categorical(held[name].astype(str), inputs[name].cat.categories)
    kind = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    model = kind(verbose=-1).fit(inputs, train[target])
    if task == "regression":
        return model.predict(held), None
    probabilities = model.predict_proba(held)
    return model.classes_[probabilities.argmax(axis=1)], probabilities[:, -1]


def fit_autogluon(train, test, target, task, metric):
    """AutoGluon medium_quality; returns (predictions, positive-class probabilities)."""
    from autogluon.tabular import TabularPredictor

    kind = (
        "regression"
        if task == "regression"
        else ("binary" if metric == "roc_auc" else "multiclass")
    )
    with tempfile.TemporaryDirectory(prefix="autogluon-") as folder:
        predictor = TabularPredictor(
            label=target, problem_type=kind, eval_metric=metric, path=folder, verbosity=0
        ).fit(train, presets="medium_quality")
        held = test.drop(columns=target)
        predicted = predictor.predict(held).to_numpy()
        if task == "regression":
            return predicted, None
        probabilities = predictor.predict_proba(held)
        positive = sorted(probabilities.columns)[-1]
        return predicted, probabilities[positive].to_numpy()


def main() -> None:
    """Fits, scores and prints the JSON line."""
    import pandas as pd

    peer, train_csv, test_csv, target, task = sys.argv[1:6]
    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    if task == "classification":  # labels as text, so both peers see classes, not numbers
        train[target], test[target] = train[target].astype(str), test[target].astype(str)
    metric = metric_for(task, train[target].nunique())
    started = time.perf_counter()
    fit = fit_lightgbm if peer == "lightgbm" else fit_autogluon
    predicted, positive_probability = fit(train, test, target, task, metric)
    seconds = time.perf_counter() - started
    truth = test[target]
    if metric == "roc_auc":  # the positive class is the later label, as sorted
        truth = (truth == sorted(train[target].unique())[-1]).astype(int)
    value = score(metric, truth, predicted, positive_probability)
    if len(sys.argv) > 6:
        scored = positive_probability if metric == "roc_auc" else predicted
        with open(sys.argv[6], "w") as out:
            json.dump([item.item() if hasattr(item, "item") else item for item in scored], out)
    print(json.dumps({"score": float(value), "metric": metric, "fit_seconds": round(seconds, 2)}))


if __name__ == "__main__":
    main()
