"""Component: score new raw rows with a trained model directory."""

from kfp.dsl import Dataset, Input, Model, Output

from components.runtime import tabular_component
from components.shared import fail, file_sha256, load_model_dir, read_csv_table, select_features


@tabular_component(helpers=[fail, file_sha256, load_model_dir, read_csv_table, select_features])
def batch_predict(
    model: Input[Model],
    data: Input[Dataset],
    predictions: Output[Dataset],
    delimiter: str = ",",
    encoding: str = "utf-8",
):
    """Predicts a class and per-class probabilities for every row of a raw CSV.

    The model directory is refused when ``model.joblib`` does not match the
    sha256 in its ``metadata.json`` or was written by another scikit-learn
    version. Columns may come in any order; columns the model does not use (the
    target too, if present) are carried through untouched. Missing values and
    categories unseen in training are handled by the model's preprocessing.

    Args:
        model: Model directory from ``train_model``.
        data: CSV of rows to score, with the model's feature columns.
        delimiter: Field separator of the input CSV.
        encoding: Text encoding of the input CSV.

    Returns:
        predictions: CSV of the input rows plus ``prediction`` and one
            ``proba_<class>`` column per class. Metadata: ``rows``,
            ``prediction_counts``, ``classes``, ``format``, ``replaced_columns``.
    """
    import os

    estimator, meta = load_model_dir(model.path, model.uri)
    frame = read_csv_table(data.path, data.uri, delimiter, encoding)
    inputs = select_features(frame, meta["features"], data.uri)
    # One pass through the forest; predict() would compute the probabilities again.
    proba = estimator.predict_proba(inputs)
    predicted = estimator.classes_[proba.argmax(axis=1)]

    added = {"prediction": predicted}
    added.update({f"proba_{label}": proba[:, i] for i, label in enumerate(estimator.classes_)})
    replaced = [name for name in added if name in frame.columns]
    output = frame.drop(columns=replaced).assign(**added)

    # Write beside the artifact, then rename: a failed write never leaves a
    # partial predictions file where the next step would read it.
    partial = predictions.path + ".partial"
    output.to_csv(partial, index=False)
    os.replace(partial, predictions.path)

    counts = output["prediction"].value_counts()
    predictions.metadata.update(
        {
            "format": "csv",
            "rows": len(output),
            "classes": [str(label) for label in estimator.classes_],
            "prediction_counts": {str(label): int(count) for label, count in counts.items()},
            "replaced_columns": replaced,
        }
    )
    print(f"Scored {len(output)} rows from {data.uri}; predictions written to {predictions.uri}.")
    if replaced:
        print(f"Replaced existing columns {replaced} with new predictions.")
