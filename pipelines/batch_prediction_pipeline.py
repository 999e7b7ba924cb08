"""Pipeline: score a CSV with a model directory from the training pipeline."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Model

from components import batch_predict, detect_drift
from pipelines.task_settings import heavy, light, uncached


class PredictionOutputs(NamedTuple):
    """What a batch-prediction run hands on."""

    predictions: Dataset


@dsl.pipeline(
    name="batch-prediction-pipeline",
    description=(
        "Checks a CSV for drift against the training data, then scores its rows with a model "
        "directory written by training-pipeline."
    ),
)
def batch_prediction_pipeline(
    model_uri: str,
    data_uri: str,
    max_psi: float = 0.0,
    max_new_category_share: float = 0.0,
    max_missing_change: float = 0.0,
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
) -> PredictionOutputs:
    """Predicts a class and class probabilities for every row of a CSV.

    Args:
        model_uri: URI or path of a model directory, the 'model' output of training-pipeline.
        data_uri: CSV of rows to score: gs://, s3://, minio:// on a cluster, a file path locally.
        max_psi: Stop before scoring when a numeric column's PSI against the training
            data exceeds this; 0 never stops (0.25 is a common choice).
        max_new_category_share: Stop before scoring when a column's share of categories
            unseen in training exceeds this; 0 never stops.
        max_missing_change: Stop before scoring when a column's share of missing values
            moved by more than this since training; 0 never stops.
        delimiter: Field separator of the CSV to score, or auto to detect it among
            comma, semicolon, tab and pipe.
        decimal: Decimal mark of the CSV to score, . or , or auto.
        encoding: Text encoding of the CSV to score, or auto (UTF-16/32 with a
            byte-order mark, else UTF-8, else Windows-1252, else Latin-1).

    Returns:
        predictions: CSV of the input rows plus prediction and proba_<class> columns.
    """
    model = dsl.importer(artifact_uri=model_uri, artifact_class=Model, reimport=False)
    model.set_display_name("import-model")
    data = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    data.set_display_name("import-data")
    # Both steps read the same file the same way.
    rows = {"data": data.output, "delimiter": delimiter, "decimal": decimal, "encoding": encoding}
    drift = detect_drift(
        model=model.output,
        max_psi=max_psi,
        max_new_category_share=max_new_category_share,
        max_missing_change=max_missing_change,
        **rows,
    )
    light(uncached(drift))
    scored = batch_predict(model=model.output, **rows).after(drift)
    heavy(uncached(scored))
    return PredictionOutputs(predictions=scored.outputs["predictions"])
