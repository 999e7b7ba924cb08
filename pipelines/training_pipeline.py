"""Pipeline: from a CSV URI to a trained, evaluated model."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Model

from components import evaluate_model, load_data, split_data, train_model


class TrainingOutputs(NamedTuple):
    """What a training run hands on."""

    model: Model
    metrics: Metrics


@dsl.pipeline(
    name="training-pipeline",
    description=(
        "Reads a CSV, splits it, trains a RandomForest pipeline and evaluates it on held-out rows."
    ),
)
def training_pipeline(
    data_uri: str,
    target_column: str,
    test_size: float = 0.2,
    random_state: int = 42,
    n_estimators: int = 100,
    max_depth: int = 0,
    min_samples_leaf: int = 1,
    class_weight: str = "none",
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> TrainingOutputs:
    """Trains and evaluates a tabular classifier.

    Args:
        data_uri: CSV to learn from: gs://, s3://, minio:// on a cluster, a file path locally.
        target_column: Column holding the class to predict.
        test_size: Fraction of rows held out for evaluation.
        random_state: Seed for the split and the forest.
        n_estimators: Number of trees.
        max_depth: Deepest a tree may grow; 0 means no limit.
        min_samples_leaf: Fewest training rows in a leaf.
        class_weight: none, balanced or balanced_subsample.
        delimiter: Field separator of the CSV.
        encoding: Text encoding of the CSV.

    Returns:
        model: The model directory (model.joblib + metadata.json).
        metrics: Test-set metrics.
    """
    raw = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    raw.set_display_name("import-data")
    loaded = load_data(
        raw=raw.output, target_column=target_column, delimiter=delimiter, encoding=encoding
    )
    split = split_data(
        data=loaded.outputs["cleaned"],
        target_column=target_column,
        test_size=test_size,
        random_state=random_state,
    )
    trained = train_model(
        train=split.outputs["train"],
        target_column=target_column,
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        class_weight=class_weight,
        random_state=random_state,
    )
    evaluated = evaluate_model(model=trained.outputs["model"], test=split.outputs["test"])
    return TrainingOutputs(model=trained.outputs["model"], metrics=evaluated.outputs["metrics"])
