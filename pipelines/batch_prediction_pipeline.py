"""Pipeline: score a CSV with a model directory from the training pipeline."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Model

from components import batch_predict


class PredictionOutputs(NamedTuple):
    """What a batch-prediction run hands on."""

    predictions: Dataset


@dsl.pipeline(
    name="batch-prediction-pipeline",
    description="Scores the rows of a CSV with a model directory written by training-pipeline.",
)
def batch_prediction_pipeline(
    model_uri: str,
    data_uri: str,
) -> PredictionOutputs:
    """Predicts a class and class probabilities for every row of a CSV.

    Args:
        model_uri: URI or path of a model directory, the 'model' output of training-pipeline.
        data_uri: CSV of rows to score: gs://, s3://, minio:// on a cluster, a file path locally.

    Returns:
        predictions: CSV of the input rows plus prediction and proba_<class> columns.
    """
    model = dsl.importer(artifact_uri=model_uri, artifact_class=Model, reimport=False)
    model.set_display_name("import-model")
    data = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    data.set_display_name("import-data")
    scored = batch_predict(model=model.output, data=data.output)
    return PredictionOutputs(predictions=scored.outputs["predictions"])
