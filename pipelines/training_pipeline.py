"""Pipeline: from a CSV URI to a selected, evaluated and (if blessed) exported model."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Model

from components import (
    bless_model,
    deploy_model,
    evaluate_model,
    export_model,
    load_data,
    record_rejection,
    split_data,
    train_model,
    validate_data,
)
from pipelines.task_settings import (
    cached,
    heavy,
    light,
    uncached,
    with_store_keys,
    writes_to_storage,
)


class TrainingOutputs(NamedTuple):
    """What a training run hands on."""

    model: Model
    metrics: Metrics


@dsl.pipeline(
    name="training-pipeline",
    description=(
        "Reads and validates a CSV, decides the task (classification or regression), splits it, "
        "picks the best candidate model by successive halving, evaluates it on "
        "held-out rows, and exports and deploys it if it is blessed."
    ),
)
def training_pipeline(
    data_uri: str,
    target_column: str,
    task: str = "auto",
    test_size: float = 0.2,
    random_state: int = 42,
    # One key a candidate: KFP's YAML header lists a default's keys in hash order.
    search_space: list = [
        {"min_samples_leaf": 5},
        {"model": "hist_gradient_boosting"},
        {"model": "linear"},
    ],
    selection_metric: str = "auto",
    min_metric: str = "auto",
    min_value: float = 0.0,
    min_lift: float = 0.05,
    baseline_model_uri: str = "",
    tolerance: float = 0.01,
    export_uri: str = "",
    keep_versions: int = 10,
    minio_endpoint: str = "http://seaweedfs.kubeflow:9000",
    serving_name: str = "tabular-model",
    serving_namespace: str = "",
    serving_image: str = "kfp-tabular-serving:0.1.0",
    serving_account: str = "",
    deploy: bool = False,
    canary_percent: int = 0,
    keep_id_columns: bool = False,
    fail_on: list = [],
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
    time_column: str = "",
    split_column: str = "",
    weight_column: str = "",
    threshold_objective: str = "",
    max_train_rows: str = "auto",
    light_memory_request: str = "2G",
    light_memory_limit: str = "4G",
    heavy_memory_request: str = "4G",
    heavy_memory_limit: str = "8G",
) -> TrainingOutputs:
    """Trains, selects, evaluates and gates a tabular classifier or regressor.

    Args:
        data_uri: CSV to learn from: gs://, s3://, minio:// on a cluster, a file path locally.
        target_column: Column holding what to predict.
        task: auto, classification or regression. auto: text, booleans and whole numbers
            with at most 20 distinct values (or distinct on at most 5% of rows) are
            classification; numbers with a fractional part, and whole numbers with more
            distinct values, are regression.
        test_size: Fraction of rows held out for evaluation.
        random_state: Seed for the split, the selection and the models.
        search_space: Candidate models, each a dict naming its model (random_forest,
            extra_trees, hist_gradient_boosting, linear, logistic_regression for
            classification, ridge for regression; random_forest when left out) and
            some of its hyperparameters, e.g. {"model": "extra_trees", "max_depth": 8};
            train_model's description lists them. One candidate is simply fitted;
            more are compared by successive halving on the training rows.
        selection_metric: The metric the best candidate is chosen by, on out-of-bag
            or held-out training rows; auto: roc_auc for two classes, balanced_accuracy
            for more, r2 for regression.
        min_metric: The test metric the model is blessed by; auto: balanced_accuracy
            for classification, r2 for regression.
        min_value: The least min_metric a model needs to be blessed (a maximum for
            log_loss); 0 accepts any.
        min_lift: Share of the way from a trivial model's test score (predicting the
            training class shares) to a perfect one that a model must cover to be blessed.
        baseline_model_uri: The model in production, scored on the same test rows: a model
            directory, or an export_uri (its current version); empty for none.
        tolerance: How much worse than the baseline a blessed model may score.
        export_uri: Where a blessed model is published, as a new version folder
            <export_uri>/<version>/: s3://, gs://, minio://, abfs:// or a path; empty to
            skip the export.
        keep_versions: How many versions export_uri keeps, besides the one served and the
            one before it; 0 keeps all.
        minio_endpoint: S3 endpoint of KFP's own store, for minio:// URIs
            (http://minio-service.kubeflow:9000 before KFP 2.16).
        serving_name: Name of the KServe InferenceService rendered for a blessed model.
        serving_namespace: Its namespace; empty: the pipeline pod's own.
        serving_image: The MLServer image built from Dockerfile.serving.
        serving_account: A ServiceAccount with credentials for export_uri's store, for
            KServe; empty: none, or one rendered for KFP's own store.
        deploy: Apply the manifests and wait until the service is Ready (in a cluster only).
        canary_percent: Share of traffic the new version gets while the last one keeps the
            rest (KServe Serverless mode only); 0 rolls it out to all traffic.
        keep_id_columns: Keep ID-like columns as features (excluded by default).
        fail_on: Validation warning kinds that stop the run: constant, id_like,
            leak, imbalance, numeric_as_text, time_trend.
        delimiter: Field separator of the CSV, or auto.
        decimal: Decimal mark of the CSV, . or , or auto.
        encoding: Text encoding of the CSV, or auto.
        time_column: A date (or number) column: the latest test_size share of rows is the
            test set, and selection scores on rows later than those it fits (Vertex AI's
            timestamp_split_key). It stays a feature.
        split_column: A column of train, validation or test (any case): a predefined
            split, validation rows scoring the candidates (predefined_split_key). Not a feature.
        weight_column: Row weights >= 0 for fitting, selection and the test metrics
            (weight_column). Not a feature.
        threshold_objective: Binary only: precision_at_recall:R, recall_at_precision:P, f1
            or cost:FP:FN; the decision threshold chosen on held-out training rows and saved
            in the model (optimization_objective maximize-precision-at-recall and
            maximize-recall-at-precision). Empty: the likeliest class.
        max_train_rows: The most rows train_model fits on: auto (as many as
            heavy_memory_limit holds) or a number.
        light_memory_request: Memory request of load, validate, split, export, deploy.
        light_memory_limit: Their memory limit.
        heavy_memory_request: Memory request of train, evaluate, bless.
        heavy_memory_limit: Their memory limit.

    Returns:
        model: The model directory (model.joblib + metadata.json).
        metrics: Test-set metrics.
    """

    def table_step(task):
        return light(task, memory_request=light_memory_request, memory_limit=light_memory_limit)

    def model_step(task):
        return heavy(task, memory_request=heavy_memory_request, memory_limit=heavy_memory_limit)

    raw = dsl.importer(artifact_uri=data_uri, artifact_class=Dataset, reimport=False)
    raw.set_display_name("import-data")
    loaded = load_data(
        raw=raw.output,
        target_column=target_column,
        delimiter=delimiter,
        decimal=decimal,
        encoding=encoding,
        task=task,
        declared_memory_limit=light_memory_limit,
    )
    decided = loaded.outputs["task"]
    table_step(uncached(loaded))
    validated = validate_data(
        data=loaded.outputs["cleaned"],
        target_column=target_column,
        keep_id_columns=keep_id_columns,
        fail_on=fail_on,
        task=decided,
        time_column=time_column,
        declared_memory_limit=light_memory_limit,
    )
    table_step(cached(validated))
    split = split_data(
        data=loaded.outputs["cleaned"],
        target_column=target_column,
        test_size=test_size,
        random_state=random_state,
        task=decided,
        time_column=time_column,
        split_column=split_column,
        declared_memory_limit=light_memory_limit,
    )
    table_step(cached(split))
    excluded = validated.outputs["excluded_columns"]

    trained = train_model(
        train=split.outputs["train"],
        target_column=target_column,
        exclude_columns=excluded,
        search_space=search_space,
        selection_metric=selection_metric,
        random_state=random_state,
        task=decided,
        time_column=time_column,
        split_column=split_column,
        weight_column=weight_column,
        threshold_objective=threshold_objective,
        max_train_rows=max_train_rows,
        declared_memory_limit=heavy_memory_limit,
    )
    model_step(cached(trained))
    evaluated = evaluate_model(
        model=trained.outputs["model"],
        test=split.outputs["test"],
        declared_memory_limit=heavy_memory_limit,
    )
    model_step(cached(evaluated))

    # Not cached: an export location's pointer moves to each new version at the same URI.
    # The step reads baseline_model_uri itself (no importer): one gate for both cases,
    # and only the baseline's current version is downloaded, not every version kept.
    blessing = bless_model(
        model=trained.outputs["model"],
        metrics=evaluated.outputs["metrics"],
        trivial_metrics=evaluated.outputs["trivial_metrics"],
        test=split.outputs["test"],
        min_metric=min_metric,
        min_value=min_value,
        min_lift=min_lift,
        tolerance=tolerance,
        baseline_model_uri=baseline_model_uri,
        minio_endpoint=minio_endpoint,
        declared_memory_limit=heavy_memory_limit,
    )
    model_step(uncached(with_store_keys(blessing)))
    with dsl.If(blessing.outputs["blessed"] == True, name="blessed"):  # noqa: E712
        exported = export_model(
            model=trained.outputs["model"],
            metrics=evaluated.outputs["metrics"],
            export_uri=export_uri,
            minio_endpoint=minio_endpoint,
            data_uri=data_uri,
            blessing_reasons=blessing.outputs["reasons"],
            keep_versions=keep_versions,
            run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        )
        table_step(writes_to_storage(uncached(with_store_keys(exported))))
        deployed = deploy_model(
            model=trained.outputs["model"],
            name=serving_name,
            namespace=serving_namespace,
            storage_uri=exported.outputs["uri"],
            serving_image=serving_image,
            service_account=serving_account,
            minio_endpoint=minio_endpoint,
            apply=deploy,
            model_version=exported.outputs["version"],
            canary_percent=canary_percent,
        )
        table_step(uncached(with_store_keys(deployed)))
    with dsl.Else(name="rejected"):
        uncached(record_rejection(reasons=blessing.outputs["reasons"]))

    return TrainingOutputs(model=trained.outputs["model"], metrics=evaluated.outputs["metrics"])
