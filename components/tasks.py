"""What a task (classification, regression) means, in one place every component uses.

The task decides the estimator, the metrics and their direction, the default
metric, how rows are stratified, and what a trivial model predicts. Embedded
into the components that call these helpers, as ``shared.py``'s are (read its
docstring: comments rather than docstrings).
"""

from components.shared import fail


# The metrics of a task, in the order reports show them.
#
# Args:
#     task: "classification" or "regression".
def task_metrics(task: str) -> list:
    if task == "regression":
        return ["r2", "rmse", "mae", "mape", "max_error"]
    return [
        "accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro",
        "roc_auc", "log_loss",
    ]  # fmt: skip


# Whether a smaller value of the metric is better (errors and losses).
#
# Args:
#     metric: A metric name.
def lower_is_better(metric: str) -> bool:
    return metric in ("log_loss", "rmse", "mae", "mape", "max_error")


# The metric a task is judged by when none is given ("auto"), else ``metric`` checked.
#
# "auto" is r2 for regression and balanced accuracy for classes, except where
# candidates are ranked (``classes`` given) on two classes: ROC AUC there. It
# ranks the probabilities, not one threshold's cut of them: with rare positives
# (3% of 10,000 credit rows) every candidate's balanced accuracy at the 0.5
# threshold sat near 0.68 and ranked the one with the best probabilities last
# (docs/quality.md). A gate's minimum stays on balanced accuracy, whose chance
# level is known (bless_model).
#
# Args:
#     metric: A metric name, or "auto".
#     task: "classification" or "regression".
#     option: How to name the setting in messages.
#     classes: The classes being ranked on; 0 when not ranking.
def resolve_metric(metric: str, task: str, option: str = "metric", classes: int = 0) -> str:
    if metric == "auto":
        if task == "regression":
            return "r2"
        return "roc_auc" if classes == 2 else "balanced_accuracy"
    if metric not in task_metrics(task):
        choices = task_metrics(task)
        fail(f"{option} {metric!r} is not a {task} metric; use one of {choices} or auto.")
    return metric


# Decides the task from the target column, or checks the one asked for.
#
# auto: text and booleans are classification; numbers with a fractional part
# are regression; whole numbers are regression when they take more than 20
# distinct values and more than 5% of the rows have distinct values (prices,
# counts, durations), else classification (0/1 flags, 1-5 ratings, codes).
#
# Args:
#     target: The target column, rows without a target already dropped.
#     task: "auto", "classification" or "regression".
#     where: How to name the column in messages, e.g. "data.csv: target column 'y'".
#
# Returns:
#     ``(task, reason)``: the task, and why, in words.
def decide_task(target, task: str, where: str):
    import pandas as pd

    if task not in ("auto", "classification", "regression"):
        fail(f"task must be auto, classification or regression, got {task!r}.")
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    distinct = int(target.nunique())
    # Integers are whole without a look (two copies of a 10M-row target spared).
    whole = numeric and (
        pd.api.types.is_integer_dtype(target) or bool((target.dropna() % 1 == 0).all())
    )
    many = distinct > 20 and distinct > 0.05 * len(target)
    if not numeric:
        found = ("classification", f"text or boolean values ({distinct} distinct)")
    elif not whole:
        found = ("regression", f"numbers with a fractional part ({distinct} distinct)")
    elif many:
        found = ("regression", f"whole numbers with {distinct} distinct values (over 20 and 5%)")
    else:
        found = ("classification", f"whole numbers with {distinct} distinct values (at most 20)")
    if task == "regression" and not numeric:
        fail(
            f"{where} holds text (e.g. {target.iloc[0]!r}), not numbers: regression needs a "
            "numeric target. Use task=classification, or auto."
        )
    if task == "classification" and numeric and (not whole or distinct > 1000):
        kind = "non-integer numbers" if not whole else "whole numbers"
        fail(
            f"{where} holds {kind} with {distinct} distinct values: as classes there would be "
            f"{distinct} of them. Use task=regression (or auto), or bin it into classes."
        )
    if task == "auto":
        return found
    return task, f"asked for (auto would say {found[0]}: {found[1]})"


# What artifact metadata says of a target: the class counts (most frequent
# first) and their number, or for regression the range, mean and spread.
#
# Args:
#     target: The target column.
#     task: "classification" or "regression".
def target_summary(target, task: str) -> dict:
    if task == "regression":
        numbers = target.astype(float)
        summary = {"min": numbers.min(), "max": numbers.max(), "mean": numbers.mean()}
        summary["std"] = numbers.std(ddof=0)
        return {"target_summary": {name: round(float(v), 6) for name, v in summary.items()}}
    counts = target.value_counts()
    return {
        "class_counts": {str(label): int(count) for label, count in counts.items()},
        "class_count": len(counts),
    }


# Labels to stratify splits and folds on: the classes, or for regression the
# target's quantile bins (10, fewer with few rows), so both sides span its range.
#
# Args:
#     target: The target column.
#     task: "classification" or "regression".
def strata(target, task: str):
    import numpy as np

    values = np.asarray(target)
    if task != "regression":
        return values
    bins = max(2, min(10, len(values) // 20))
    edges = np.unique(np.quantile(values.astype(float), np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values.astype(float), side="right")


# scikit-learn's log loss (sklearn/metrics/_classification.py, ``_log_loss``:
# probabilities clipped to [eps, 1 - eps], the one-hot labels' xlogy summed by
# row, ``np.average`` with the weights) without its one-hot matrix and the
# clipped copy of every probability (three copies of the n x classes matrix, the
# peak of evaluate_model at 2M test rows): each row's loss is the log of its
# true class's clipped probability, the same figure to the bit. Labels that are
# not codes of ``classes`` go to scikit-learn, which says what is wrong.
#
# Args:
#     truth: The true labels as codes (indices into ``classes``).
#     proba: The class probabilities (rows, classes).
#     classes: The codes of the classes, 0..k-1.
#     weights: Row weights, or None.
def log_loss_codes(truth, proba, classes, weights=None):
    import numpy as np
    from sklearn import metrics as sk

    proba = np.asarray(proba)
    fits = proba.ndim == 2 and proba.shape[1] == len(classes) and len(truth) == len(proba)
    if not fits or not len(truth) or truth.min() < 0 or truth.max() >= len(classes):
        return sk.log_loss(truth, proba, labels=classes, sample_weight=weights)
    if proba.dtype.kind != "f" or proba.max() > 1 or proba.min() < 0:
        return sk.log_loss(truth, proba, labels=classes, sample_weight=weights)
    eps = np.finfo(proba.dtype).eps
    chosen = np.clip(proba[np.arange(len(truth)), truth], eps, 1 - eps)
    return float(np.average(-np.log(chosen), weights=weights))


# The classification metrics, from the true classes and predicted probabilities.
#
# Args:
#     truth: True classes (array-like).
#     proba: Predicted probabilities, one column per class of ``classes``.
#     classes: The model's classes, in its column order.
#     only: One metric's name: compute that one alone (model selection scores
#         many parts of the rows by one metric; all seven cost 16 ms a call on
#         30 rows, one 1.4 ms, measured).
#     weights: Row weights, or None.
#     threshold: Binary: the positive class (the second) is predicted where its
#         probability is at least this; None: the likeliest class.
#
# Returns:
#     A dict: accuracy, balanced_accuracy, precision_macro, recall_macro,
#     f1_macro, log_loss, and roc_auc when the rows hold every class (binary,
#     or one-vs-rest macro average); binary: precision and recall of the
#     positive class too.
def score_predictions(truth, proba, classes, only: str = "", weights=None, threshold=None) -> dict:
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn import metrics as sk

    # Labels as codes: each class its index in ``classes``, a label the model
    # never saw the numbers after. The metrics only compare labels, so the
    # scores are unchanged, and they sort integers rather than strings: all
    # seven on 20,000 rows of 3 classes, 0.19 s with the labels, 0.03 s.
    count = len(classes)
    # Where every label is a class (the usual case), its index in ``classes``, in
    # the least integer type: no object copy of the labels (16 bytes a row, and
    # factorize's hash table), the same codes.
    truth = np.asarray(truth)
    known = pd.Index(list(classes))
    codes = known.get_indexer(truth) if known.is_unique else None
    if codes is not None and len(codes) and codes.min() >= 0:
        truth = codes.astype(np.min_scalar_type(count))
    else:
        labels = pd.concat([pd.Series(list(classes), dtype=object), pd.Series(truth, dtype=object)])
        truth = pd.factorize(labels.to_numpy())[0][count:]
    del codes
    proba, w, classes = np.asarray(proba), {"sample_weight": weights}, np.arange(count)
    predicted = proba.argmax(axis=1)
    if threshold is not None and count == 2:
        predicted = (proba[:, 1] >= threshold).astype(int)

    def average(score, **how):
        return lambda: score(truth, predicted, zero_division=0, **how, **w)

    metrics = {
        "accuracy": lambda: sk.accuracy_score(truth, predicted, **w),
        "balanced_accuracy": lambda: sk.balanced_accuracy_score(truth, predicted, **w),
        "precision_macro": average(sk.precision_score, average="macro"),
        "recall_macro": average(sk.recall_score, average="macro"),
        "f1_macro": average(sk.f1_score, average="macro"),
        "log_loss": lambda: log_loss_codes(truth, proba, classes, weights),
    }
    if len(classes) == 2:
        metrics["precision"] = average(sk.precision_score, pos_label=classes[1])
        metrics["recall"] = average(sk.recall_score, pos_label=classes[1])
    if set(classes) <= set(np.unique(truth).tolist()):
        if len(classes) == 2:
            metrics["roc_auc"] = lambda: sk.roc_auc_score(truth == classes[1], proba[:, 1], **w)
        else:
            metrics["roc_auc"] = lambda: sk.roc_auc_score(
                truth, proba, multi_class="ovr", average="macro", labels=classes, **w
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a class absent from these rows
        return {
            name: float(compute()) for name, compute in metrics.items() if not only or name == only
        }


# The regression metrics, from true and predicted values.
#
# mape is left out when a true value is 0 (it is undefined there); max_error
# is unweighted. ``only``, ``weights``: as for ``score_predictions``.
def score_regression(truth, predicted, only: str = "", weights=None) -> dict:
    import numpy as np
    from sklearn import metrics as sk

    truth = np.asarray(truth, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    w = {"sample_weight": weights}
    metrics = {
        "r2": lambda: sk.r2_score(truth, predicted, **w) if len(truth) > 1 else float("nan"),
        "rmse": lambda: sk.root_mean_squared_error(truth, predicted, **w),
        "mae": lambda: sk.mean_absolute_error(truth, predicted, **w),
    }
    if (truth != 0).all():
        metrics["mape"] = lambda: sk.mean_absolute_percentage_error(truth, predicted, **w)
    metrics["max_error"] = lambda: sk.max_error(truth, predicted)
    return {name: float(compute()) for name, compute in metrics.items() if not only or name == only}


# Predicts with a fitted model and scores the predictions against the truth.
#
# Args:
#     estimator: The fitted scikit-learn Pipeline.
#     inputs: Its feature columns, typed by ``select_features``.
#     truth: The true targets.
#     task: "classification" or "regression".
#     weights: Row weights, or None.
#     threshold: The model's decision threshold (binary), or None.
#
# Returns:
#     ``(scores, output)``: the task's metrics, and the class probabilities
#     (classification) or predicted values (regression).
def predict_and_score(estimator, inputs, truth, task: str, weights=None, threshold=None):
    if task == "regression":
        predicted = estimator.predict(inputs)
        return score_regression(truth, predicted, weights=weights), predicted
    # One pass through the forest; predict() would compute the probabilities again.
    proba = estimator.predict_proba(inputs)
    return score_predictions(truth, proba, estimator.classes_, "", weights, threshold), proba


# The scores of a trivial model on the test rows: the training class shares for
# every row (classification: the majority class, chance for balanced accuracy),
# or the training mean (regression).
#
# Args:
#     meta: The model's metadata.json.
#     truth: The true targets of the test rows.
#     weights: Their weights, or None.
def trivial_scores(meta: dict, truth, weights=None) -> dict:
    import numpy as np

    if meta.get("task") == "regression":
        mean = np.full(len(truth), meta["target_summary"]["mean"])
        return score_regression(truth, mean, weights=weights)
    shares = np.asarray(meta["class_counts"], dtype=float) / sum(meta["class_counts"])
    return score_predictions(truth, np.tile(shares, (len(truth), 1)), meta["classes"], "", weights)
