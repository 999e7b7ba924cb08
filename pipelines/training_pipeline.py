"""Pipeline: from a CSV URI to a trained, evaluated model."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Model

from components import evaluate_model, load_data, split_data, train_model, validate_data


class TrainingOutputs(NamedTuple):
    """What a training run hands on."""

    model: Model
    metrics: Metrics


@dsl.pipeline(
    name="training-pipeline",
    description=(
        "Reads and validates a CSV, splits it, trains a RandomForest pipeline and evaluates it "
        "on held-out rows."
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
    keep_id_columns: bool = False,
    fail_on: list = [],
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
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
        keep_id_columns: Keep ID-like columns as features (excluded by default).
        fail_on: Validation warning kinds that stop the run: constant, id_like,
            leak, imbalance, numeric_as_text.
        delimiter: Field separator of the CSV, or auto.
        decimal: Decimal mark of the CSV, . or , or auto.
        encoding: Text encoding of the CSV, or auto.

    Returns:
        model: The model directory (model.joblib + metadata.json).
        metrics: Test-set metrics.
    """
    raw = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    raw.set_display_name("import-data")
    loaded = load_data(
        raw=raw.output,
        target_column=target_column,
        delimiter=delimiter,
        decimal=decimal,
        encoding=encoding,
    )
    validated = validate_data(
        data=loaded.outputs["cleaned"],
        target_column=target_column,
        keep_id_columns=keep_id_columns,
        fail_on=fail_on,
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
        exclude_columns=validated.outputs["excluded_columns"],
        n_estimators=n_estimators,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
        class_weight=class_weight,
        random_state=random_state,
    )
    evaluated = evaluate_model(model=trained.outputs["model"], test=split.outputs["test"])
    return TrainingOutputs(model=trained.outputs["model"], metrics=evaluated.outputs["metrics"])
