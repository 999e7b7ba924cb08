"""The training options (split, weight and time columns, a threshold objective), in one place.

The CLI checks an objective with ``parse_objective`` before anything runs;
``split_data``, ``train_model`` and ``evaluate_model`` check the columns' values
with the helpers here. Embedded into the components that call them, as
``shared.py``'s are (read its docstring: comments rather than docstrings).
"""

from components.features import date_format
from components.shared import fail


# A threshold objective checked: ``(kind, numbers)``, or None for "" (the 0.5 of argmax).
#
# kinds: precision_at_recall:R (the best precision with recall at least R),
# recall_at_precision:P, f1, cost:FP:FN (the least FP * false positives + FN *
# false negatives). Plain Python: the command line checks with it too.
#
# Args:
#     text: The ``threshold_objective`` option.
#     task: "classification", "regression" or "auto" (not known yet).
#     classes: Number of classes of the target (2 when not known yet).
def parse_objective(text: str, task: str = "auto", classes: int = 2):
    if not text:
        return None
    kind, _, rest = text.strip().partition(":")
    use = "use precision_at_recall:0.9, recall_at_precision:0.8, f1 or cost:1:5"
    if task == "regression" or classes != 2:
        what = "a regression" if task == "regression" else f"a {classes}-class target"
        fail(
            f"threshold_objective {text!r} needs a binary target, and this is {what}. "
            "Leave threshold_objective empty."
        )
    try:
        numbers = [float(part) for part in rest.split(":")] if rest else []
    except ValueError:
        numbers = None
    arity = {"precision_at_recall": 1, "recall_at_precision": 1, "f1": 0, "cost": 2}
    if kind not in arity or numbers is None or len(numbers) != arity[kind]:
        fail(f"threshold_objective {text!r} is not an objective; {use}.")
    if kind != "cost" and numbers and not 0 < numbers[0] <= 1:
        wanted = kind.partition("_at_")[2]
        fail(f"threshold_objective {text!r}: the {wanted} must be in (0, 1]; {use}.")
    if kind == "cost" and (min(numbers) < 0 or max(numbers) == 0):
        fail(f"threshold_objective {text!r}: costs must be >= 0, one above 0; {use}.")
    return kind, numbers


# A split column's values, stripped and lower-cased: train (or training), validation or test.
#
# Args:
#     values: The column.
#     where: How to name it in messages, e.g. "data.csv: split column 'fold'".
def split_labels(values, where: str):
    import pandas as pd

    labels = pd.Series(values).astype("string").str.strip().str.lower()
    labels = labels.replace("training", "train")  # Vertex AI's own word
    unknown = sorted(set(labels.fillna("<missing>")) - {"train", "validation", "test"})
    if unknown:
        count = int((~labels.isin(["train", "validation", "test"])).sum())
        fail(
            f"{where} holds {unknown[0]!r} ({count} rows with values other than train, "
            "validation or test). Use only those values (any case)."
        )
    return labels.to_numpy(dtype=str)


# The row weights of ``column`` (None without one), refused when a weight is
# missing, not a number or negative, or when they sum to 0.
#
# Args:
#     frame: The table.
#     column: The ``weight_column`` option ("" for none).
#     source: The table's URI, for messages.
def row_weights(frame, column: str, source: str):
    import pandas as pd

    if not column:
        return None
    if column not in frame.columns:
        fail(f"{source}: weight column {column!r} not found; columns are {list(frame.columns)}.")
    weights = pd.to_numeric(frame[column], errors="coerce")
    bad = weights.isna() | (weights < 0)
    if bad.any() or weights.sum() <= 0:
        example = str(frame[column][bad].iloc[0]) if bad.any() else "0"
        fail(
            f"{source}: weight column {column!r} has {int(bad.sum())} missing, non-numeric or "
            f"negative weights (e.g. {example}), or sums to 0. Give every row a weight >= 0."
        )
    return weights.to_numpy(dtype=float)


# The values of ``column`` to order rows by in time: numbers, or dates parsed
# (as ``infer_features`` parses them); refused when some are missing or unreadable.
def time_keys(frame, column: str, source: str):
    import pandas as pd

    if column not in frame.columns:
        fail(f"{source}: time column {column!r} not found; columns are {list(frame.columns)}.")
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(
        values
    ):
        found = date_format(values.dropna().astype(str)) or "mixed"
        values = pd.to_datetime(values.astype("string"), format=found, errors="coerce", utc=True)
    if values.isna().any():
        fail(
            f"{source}: time column {column!r} has {int(values.isna().sum())} missing or "
            "unreadable values; give every row a date or number, or drop those rows."
        )
    return values.reset_index(drop=True)


# The threshold meeting the objective on held-out rows: the positive class is
# predicted where its probability is at least the threshold.
#
# Args:
#     positive: Whether each held-out row is of the positive class.
#     score: The positive class's held-out probability.
#     objective: From ``parse_objective``.
#     weights: Row weights, or None.
#
# Returns:
#     ``{"threshold", "precision", "recall", "met"}`` on those rows; ``met`` is
#     False when no threshold reaches the asked precision (the best one is taken).
def choose_threshold(positive, score, objective, weights=None) -> dict:
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(positive, score, sample_weight=weights)
    precision, recall = precision[:-1], recall[:-1]
    kind, numbers = objective
    met = np.ones(len(thresholds), bool)
    if kind == "precision_at_recall":
        met, value = recall >= numbers[0] - 1e-12, precision
    elif kind == "recall_at_precision":
        met, value = precision >= numbers[0] - 1e-12, recall
    elif kind == "f1":
        value = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    else:  # cost: false positives and negatives, as weighted counts
        positives = np.sum(np.where(positive, 1.0 if weights is None else weights, 0))
        true_pos = recall * positives
        value = -(numbers[0] * (true_pos / np.maximum(precision, 1e-12) - true_pos))
        value -= numbers[1] * (positives - true_pos)
    reached = bool(met.any())
    if not reached:
        met, value = np.ones(len(thresholds), bool), precision
    best = int(np.argmax(np.where(met, value, -np.inf)))
    chosen = {"threshold": thresholds[best], "precision": precision[best], "recall": recall[best]}
    return {**{k: round(float(v), 6) for k, v in chosen.items()}, "met": reached}


# The fitted Pipeline with its last step deciding at ``threshold``: stock
# scikit-learn classes (FixedThresholdClassifier around the frozen estimator),
# so a model server loads it with no code of ours, and predict() applies it.
#
# Args:
#     pipeline: The fitted Pipeline (binary classifier).
#     threshold: The positive class's least probability.
#     inputs, target: The training rows (only checked: nothing is refitted).
def with_threshold(pipeline, threshold: float, inputs, target):
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier

    name, last = pipeline.steps[-1]
    fixed = FixedThresholdClassifier(
        FrozenEstimator(last), threshold=threshold, response_method="predict_proba"
    )
    pipeline.steps[-1] = (name, fixed.fit(pipeline[:-1].transform(inputs), target))
    return pipeline
