"""Component: fit the preprocessing + RandomForest pipeline."""

from kfp.dsl import Dataset, Input, Model, Output

from components.features import build_model, infer_features, profile_column, select_features
from components.runtime import tabular_component
from components.shared import bounded, fail, file_sha256
from components.tasks import decide_task, target_summary


@tabular_component
def train_model(
    train: Input[Dataset],
    model: Output[Model],
    target_column: str,
    exclude_columns: list = [],
    hyperparameters: dict = {},
    random_state: int = 42,
    task: str = "auto",
):
    """Fits one scikit-learn Pipeline: preprocessing, then a random forest for the task.

    A ``RandomForestClassifier`` for classification, a ``RandomForestRegressor``
    for regression, with the same preprocessing and hyperparameters.

    Numeric columns get their missing values replaced by the training median.
    Text, boolean and other non-numeric columns are treated as categories:
    missing values become the category ``"missing"``, then they are one-hot
    encoded (the 49 most frequent categories of a column get their own column,
    rarer ones share one; a category unseen in training is encoded as rare, or
    as all zeros when the column had no rare categories). The forest uses every core.

    Args:
        train: Parquet table of training rows from ``split_data``.
        target_column: Column holding what to predict (a class or a number).
        exclude_columns: Columns not to use as features (``validate_data``
            hands over the ID-like ones).
        hyperparameters: Any of ``n_estimators`` (100), ``max_depth`` (0 means no
            limit), ``min_samples_leaf`` (1), ``class_weight`` (``none``,
            ``balanced`` or ``balanced_subsample``) and ``max_features``
            (``sqrt``, ``log2`` or a share of the columns); the rest keep
            their defaults.
        random_state: Seed for the forest.
        task: ``auto`` (decided from the target, as ``load_data`` does),
            ``classification`` or ``regression``.

    Returns:
        model: Directory holding ``model.joblib`` (the fitted Pipeline,
            zlib-compressed; the layout KServe and Vertex AI serve from) and
            ``metadata.json``: ``framework``, ``framework_version``,
            ``target_column``, ``features`` (the schema: per feature its name,
            kind, dtype, missing rate and unique count, with min, max, mean and
            decile bins for numeric ones, categories seen with their counts for
            the others), ``excluded_columns``, ``classes``, ``hyperparameters``,
            ``training_rows``, ``fit_seconds``, ``sha256`` of ``model.joblib``.
            Metadata: the same, bounded in size, with ``features`` as name to
            kind and ``feature_count``, ``class_count`` (the full schema is in
            ``metadata.json``).
    """
    import json
    import os
    import sys
    import time

    import joblib
    import pandas as pd
    import sklearn

    frame = pd.read_parquet(train.path)
    if target_column not in frame.columns:
        columns = list(frame.columns)
        fail(f"{train.uri}: target column {target_column!r} not found; columns are {columns}.")
    features = infer_features(frame, target_column, exclude_columns)
    if not features:
        excluded = [name for name in exclude_columns if name in frame.columns]
        fail(
            f"{train.uri}: no feature columns besides {target_column!r}"
            + (f" once {excluded} are excluded" if excluded else "")
            + ". Add feature columns, or keep the excluded ones (keep_id_columns=True)."
        )
    task, _ = decide_task(frame[target_column], task, f"{train.uri}: target {target_column!r}")
    pipeline, settings = build_model(features, hyperparameters, random_state, task)
    inputs = select_features(frame, features, train.uri)
    for feature in features:
        feature.update(
            profile_column(
                inputs[feature["name"]], feature["kind"], date_format=feature.get("format", "")
            )
        )
    started = time.perf_counter()
    pipeline.fit(inputs, frame[target_column])
    fit_seconds = time.perf_counter() - started

    os.makedirs(model.path, exist_ok=True)
    model_file = os.path.join(model.path, "model.joblib")
    # zlib level 3, chosen with benchmarks/ (100k rows): 0.21x the uncompressed
    # size, 2.5x its warm load time (+0.17 s). lz4 loads faster but needs a
    # package model servers lack; zlib ships with Python, so the file loads anywhere.
    # Written under another name and renamed when whole, metadata.json last: an
    # interrupted or failed write never leaves what looks like a model.
    joblib.dump(pipeline, model_file + ".partial", compress=("zlib", 3))
    os.replace(model_file + ".partial", model_file)
    if task == "regression":
        target = target_summary(frame[target_column], task)
    else:
        counts = frame[target_column].value_counts()
        target = {
            "classes": pipeline.classes_.tolist(),
            "class_counts": [int(counts[label]) for label in pipeline.classes_],
        }
    metadata = {
        "framework": "scikit-learn",
        "framework_version": sklearn.__version__,
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "model_file": "model.joblib",
        "target_column": target_column,
        "features": features,
        "excluded_columns": [name for name in exclude_columns if name in frame.columns],
        "task": task,
        **target,
        "hyperparameters": {**settings, "random_state": random_state},
        "training_rows": len(frame),
        "fit_seconds": round(fit_seconds, 3),
        "sha256": file_sha256(model_file),
    }
    metadata_file = os.path.join(model.path, "metadata.json")
    with open(metadata_file + ".partial", "w", encoding="utf-8") as handle:
        json.dump(metadata, handle, indent=2)
    os.replace(metadata_file + ".partial", metadata_file)
    summary = {
        **metadata,
        "features": {feature["name"]: feature["kind"] for feature in features},
        "feature_count": len(features),
    }
    if task == "classification":
        summary["class_count"] = len(metadata["classes"])
    model.metadata.update(bounded(summary))
    what = "regression" if task == "regression" else f"{len(metadata['classes'])} classes"
    print(
        f"Trained a {settings['n_estimators']}-tree forest on {len(frame)} rows, "
        f"{len(features)} features, {what}, in {fit_seconds:.2f} s."
    )
