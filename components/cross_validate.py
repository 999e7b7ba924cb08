"""Component: score one hyperparameter set by stratified k-fold cross-validation."""

from kfp.dsl import Dataset, Input

from components.features import build_model, infer_features, select_features
from components.runtime import tabular_component
from components.shared import fail
from components.tasks import decide_task, predict_and_score, resolve_metric, strata


@tabular_component
def cross_validate(
    train: Input[Dataset],
    target_column: str,
    hyperparameters: dict,
    exclude_columns: list = [],
    folds: int = 3,
    metric: str = "auto",
    random_state: int = 42,
    task: str = "auto",
) -> dict:
    """Scores one candidate on the training rows only, by stratified k-fold cross-validation.

    Folds are stratified on the classes, or for regression on the target's quantile bins.

    The test split is never touched: it is kept for the final evaluation of the
    chosen candidate. When a class has fewer training rows than ``folds``, the
    number of folds drops to that count (at least 2).

    Args:
        train: Parquet table of training rows from ``split_data``.
        target_column: Column holding what to predict (a class or a number).
        hyperparameters: The candidate, as ``train_model`` takes it.
        exclude_columns: Columns not to use as features.
        folds: Number of folds.
        metric: What to score: for classification ``accuracy``,
            ``balanced_accuracy`` (``auto``), ``precision_macro``,
            ``recall_macro``, ``f1_macro``, ``roc_auc`` or ``log_loss``; for
            regression ``r2`` (``auto``), ``rmse``, ``mae``, ``mape`` or
            ``max_error``. Losses and errors are lower-is-better.
        random_state: Seed for the folds and the forest.
        task: ``auto`` (decided from the target, as ``load_data`` does),
            ``classification`` or ``regression``.

    Returns:
        A dict: ``hyperparameters``, ``metric``, ``mean`` and ``std`` of the
        metric over the folds, ``scores`` per fold, ``fit_seconds`` (mean per
        fold), ``folds``.
    """
    import time

    import numpy as np
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    frame = pd.read_parquet(train.path)
    task, _ = decide_task(frame[target_column], task, f"{train.uri}: target {target_column!r}")
    metric = resolve_metric(metric, task)
    features = infer_features(frame, target_column, exclude_columns)
    inputs = select_features(frame, features, train.uri)
    labels = frame[target_column].to_numpy()
    groups = strata(frame[target_column], task)
    smallest = int(pd.Series(groups).value_counts().min())
    if smallest < 2:
        fail(
            f"{train.uri}: a class has a single training row; cross-validation needs at least 2 "
            "per class. Use a single candidate (no sweep) or more data."
        )
    folds = min(folds, smallest)

    scores, fit_seconds = [], []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    for fit_rows, score_rows in splitter.split(inputs, groups):
        model, settings = build_model(features, hyperparameters, random_state, task)
        started = time.perf_counter()
        model.fit(inputs.iloc[fit_rows], labels[fit_rows])
        fit_seconds.append(time.perf_counter() - started)
        fold_scores, _ = predict_and_score(model, inputs.iloc[score_rows], labels[score_rows], task)
        if fold_scores.get(metric) is not None:
            scores.append(fold_scores[metric])
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
