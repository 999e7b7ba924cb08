"""Pipeline: score a table with a model directory from the training pipeline, in shards."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Model

from components import batch_predict, detect_drift, gather_predictions, plan_shards
from pipelines.task_settings import heavy, light, uncached


class PredictionOutputs(NamedTuple):
    """What a batch-prediction run hands on."""

    predictions: Dataset


@dsl.pipeline(
    name="batch-prediction-pipeline",
    description=(
        "Checks a table (CSV or Parquet, a file or a prefix of part files) for drift against the "
        "training data, then scores its rows with a model directory written by training-pipeline, "
        "in shards that run in parallel."
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
    output_format: str = "csv",
    shards: int = 1,
) -> PredictionOutputs:
    """Predicts a class and class probabilities, or a number, for every row of a table.

    Args:
        model_uri: URI or path of a model directory (the 'model' output of training-pipeline),
            of an export_uri (its current version) or of one version's folder.
        data_uri: Rows to score, CSV or Parquet: a file, or a folder or prefix of part files
            (s3://bucket/day=2026-12-01/); gs://, s3://, minio:// on a cluster, a path locally.
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
        output_format: csv or parquet, the format of the predictions.
        shards: How many batch-predict tasks score the table in parallel: groups of part
            files of a prefix, or row ranges of a single file.

    Returns:
        predictions: One table (CSV or Parquet) of the input rows plus prediction and
            proba_<class> columns, whatever the number of shards.
    """
    model = dsl.importer(artifact_uri=model_uri, artifact_class=Model, reimport=False)
    model.set_display_name("import-model")
    data = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    data.set_display_name("import-data")
    # Both steps read the same file the same way.
    reading_options = {"delimiter": delimiter, "decimal": decimal, "encoding": encoding}
    rows = {"data": data.output, **reading_options}
    drift = detect_drift(
        model=model.output,
        max_psi=max_psi,
        max_new_category_share=max_new_category_share,
        max_missing_change=max_missing_change,
        **rows,
    )
    light(uncached(drift))
    plan = plan_shards(data=data.output, shards=shards, **reading_options)
    light(uncached(plan.after(drift)))
    with dsl.ParallelFor(plan.output) as shard:
        scored = batch_predict(model=model.output, output_format=output_format, shard=shard, **rows)
        heavy(uncached(scored))
    gathered = gather_predictions(parts=dsl.Collected(scored.outputs["predictions"]))
    light(uncached(gathered))
    return PredictionOutputs(predictions=gathered.outputs["predictions"])
