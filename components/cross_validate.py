"""Component: score one hyperparameter set by stratified k-fold cross-validation."""

from kfp.dsl import Dataset, Input

from components.features import build_model, infer_features, select_features
from components.runtime import tabular_component
from components.shared import fail
from components.tasks import score_predictions


@tabular_component
def cross_validate(
    train: Input[Dataset],
    target_column: str,
    hyperparameters: dict,
    exclude_columns: list = [],
    folds: int = 3,
    metric: str = "balanced_accuracy",
    random_state: int = 42,
) -> dict:
    """Scores one candidate on the training rows only, by stratified k-fold cross-validation.

    The test split is never touched: it is kept for the final evaluation of the
    chosen candidate. When a class has fewer training rows than ``folds``, the
    number of folds drops to that count (at least 2).

    Args:
        train: Parquet table of training rows from ``split_data``.
        target_column: Column holding the class to predict.
        hyperparameters: The candidate, as ``train_model`` takes it.
        exclude_columns: Columns not to use as features.
        folds: Number of folds.
        metric: What to score: ``accuracy``, ``balanced_accuracy``,
            ``precision_macro``, ``recall_macro``, ``f1_macro``, ``roc_auc`` or
            ``log_loss`` (lower is better).
        random_state: Seed for the folds and the forest.

    Returns:
        A dict: ``hyperparameters``, ``metric``, ``mean`` and ``std`` of the
        metric over the folds, ``scores`` per fold, ``fit_seconds`` (mean per
        fold), ``folds``.
    """
    import time

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    names = ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro")
    if metric not in (*names, "roc_auc", "log_loss"):
        fail(f"metric {metric!r} is not one of {[*names, 'roc_auc', 'log_loss']}.")
    frame = pd.read_parquet(train.path)
    features = infer_features(frame, target_column, exclude_columns)
    inputs = select_features(frame, features, train.uri)
    labels = frame[target_column].to_numpy()
    smallest = int(frame[target_column].value_counts().min())
    if smallest < 2:
        fail(
            f"{train.uri}: a class has a single training row; cross-validation needs at least 2 "
            "per class. Use a single candidate (no sweep) or more data."
        )
    folds = min(folds, smallest)

    scores, fit_seconds = [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    for fit_rows, score_rows in splitter.split(inputs, labels):
        model, settings = build_model(features, hyperparameters, random_state)
        started = time.perf_counter()
        model.fit(inputs.iloc[fit_rows], labels[fit_rows])
        fit_seconds.append(time.perf_counter() - started)
        proba = model.predict_proba(inputs.iloc[score_rows])
        value = score_predictions(labels[score_rows], proba, model.classes_).get(metric)
        if value is not None:
            scores.append(value)
    if not scores:
        fail(
            f"{metric} was undefined in every fold (too few rows per class); choose another metric."
        )
    result = {
        "hyperparameters": settings,
        "metric": metric,
        "mean": round(float(np.mean(scores)), 6),
        "std": round(float(np.std(scores)), 6),
        "scores": [round(float(score), 6) for score in scores],
        "fit_seconds": round(float(np.mean(fit_seconds)), 3),
        "folds": folds,
    }
    print(f"{metric} {result['mean']:.4f} ± {result['std']:.4f} over {folds} folds for {settings}")
    return result
