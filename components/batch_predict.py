"""Component: score new raw rows with a trained model directory."""

from kfp.dsl import Dataset, Input, Model, Output

from components.features import select_features
from components.runtime import tabular_component
from components.shared import bounded, exit_quickly, load_model_dir, read_csv_table
from components.storage import local_path


@tabular_component
def batch_predict(
    model: Input[Model],
    data: Input[Dataset],
    predictions: Output[Dataset],
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
):
    """Predicts a class and per-class probabilities, or a number, for every row of a raw CSV.

    The rows are checked against the schema recorded at training: a missing
    feature column, or text in a numeric one, stops the step with a clear
    error. Columns may come in any order; columns the model does not use (the
    target too, if present) are carried through untouched and reported.
    Missing values and categories unseen in training are handled by the
    model's preprocessing, and counted. The model directory is refused when
    ``model.joblib`` does not match the sha256 in its ``metadata.json`` or was
    written by another scikit-learn version.

    Args:
        model: Model directory from ``train_model``.
        data: CSV of rows to score, with the model's feature columns.
        delimiter: Field separator of the input CSV, or ``auto``.
        decimal: Decimal mark of the input CSV, ``.`` or ``,``, or ``auto``.
        encoding: Text encoding of the input CSV, or ``auto``.

    Returns:
        predictions: CSV (comma-separated, UTF-8) of the input rows plus
            ``prediction`` and one ``proba_<class>`` column per class, or for
            regression ``prediction`` (the forest's mean) with ``tree_p10`` and
            ``tree_p90``, the 10th and 90th percentiles of its trees'
            predictions (the model's own spread, not a calibrated interval).
            Metadata: ``rows``, ``task``, ``classes`` and ``prediction_counts``
            (or ``prediction_summary``), ``ignored_columns``,
            ``missing_values``, ``unseen_categories`` and ``unparseable_dates``
            (counts per column), ``replaced_columns``, ``warnings``,
            ``reading_options``, ``format``; lists and maps cut to their first
            20 entries.
    """
    import os

    import numpy as np
    import pandas as pd

    estimator, meta = load_model_dir(local_path(model), model.uri)
    frame, reading = read_csv_table(local_path(data), data.uri, delimiter, decimal, encoding)
    features = meta["features"]
    inputs = select_features(frame, features, data.uri)
    task = meta.get("task", "classification")
    forest = hasattr(estimator[-1], "n_estimators")  # not boosting, nor an ensemble's vote
    trees = getattr(estimator[-1], "estimators_", None) if forest else None
    if task == "regression" and trees is None:
        added = {"prediction": estimator.predict(inputs)}
    elif task == "regression":
        # The spread of the forest's own trees: the 10th and 90th percentiles of their
        # predictions. It shows where the model is unsure; it is not a calibrated
        # prediction interval (it leaves out the noise in the target itself).
        prepared = estimator[:-1].transform(inputs)
        per_tree = np.stack([tree.predict(prepared) for tree in trees])
        low, high = np.percentile(per_tree, [10, 90], axis=0)
        added = {"prediction": per_tree.mean(axis=0), "tree_p10": low, "tree_p90": high}
    else:
        # One pass through the forest; predict() would compute the probabilities again.
        proba = estimator.predict_proba(inputs)
        added = {"prediction": estimator.classes_[proba.argmax(axis=1)]}
        added.update({f"proba_{label}": proba[:, i] for i, label in enumerate(estimator.classes_)})

    used = {feature["name"] for feature in features}
    ignored = [name for name in frame.columns if name not in used]
    missing = {name: int(n) for name, n in inputs.isna().sum().items() if n}
    unseen = {}
    for feature in features:
        known = feature.get("categories")
        if feature["kind"] == "categorical" and known is not None:
            values = inputs[feature["name"]].dropna()
            count = int((~values.isin(list(known))).sum())
            if count:
                unseen[feature["name"]] = count
    unparseable = {}
    for feature in features:
        if feature["kind"] == "datetime":
            values = inputs[feature["name"]].dropna()
            parsed = pd.to_datetime(values, format=feature["format"], errors="coerce", utc=True)
            if parsed.isna().any():
                unparseable[feature["name"]] = int(parsed.isna().sum())
    warnings = []
    if ignored:
        warnings.append(f"ignored columns the model does not use: {bounded(ignored)}")
    if unseen:
        warnings.append(f"categories unseen in training, encoded as rare: {bounded(unseen)}")
    if unparseable:
        warnings.append(f"dates that do not parse, used as missing: {bounded(unparseable)}")
    if missing:
        warnings.append(f"missing values, filled in by the model's imputers: {bounded(missing)}")

    replaced = [name for name in added if name in frame.columns]
    new_columns = pd.DataFrame(added, index=frame.index)
    output = pd.concat([frame.drop(columns=replaced), new_columns], axis=1)

    # Write beside the artifact, then rename: a failed write never leaves a
    # partial predictions file where the next step would read it.
    partial = predictions.path + ".partial"
    output.to_csv(partial, index=False)
    os.replace(partial, predictions.path)

    if task == "regression":
        values = output["prediction"]
        described = {
            "prediction_summary": {
                "min": round(float(values.min()), 6),
                "mean": round(float(values.mean()), 6),
                "max": round(float(values.max()), 6),
            }
        }
    else:
        counts = output["prediction"].value_counts()
        described = {
            "classes": [str(label) for label in estimator.classes_],
            "prediction_counts": {str(label): int(count) for label, count in counts.items()},
        }
    predictions.metadata.update(
        bounded(
            {
                "format": "csv",
                "rows": len(output),
                "task": task,
                **described,
                "replaced_columns": replaced,
                "ignored_columns": ignored,
                "missing_values": missing,
                "unseen_categories": unseen,
                "unparseable_dates": unparseable,
                "warnings": warnings,
                "reading_options": reading,
            }
        )
    )
    print(f"Scored {len(output)} rows from {data.uri}; predictions written to {predictions.uri}.")
    for warning in warnings + [f"replaced existing columns {replaced}"] * bool(replaced):
        print(f"warning: {warning}")
    exit_quickly()
