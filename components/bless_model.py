"""Component: decide whether a new model may replace the one in production."""

from typing import NamedTuple

from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from components.memory import chunk_rows_within
from components.runtime import tabular_component
from components.scoring import predict_labelled
from components.shared import chunk_rows, exit_quickly, fail, load_model_dir, read_model_metadata
from components.tables import parquet_row_bytes
from components.tasks import lower_is_better, resolve_metric, score_predictions, score_regression
from components.training_options import row_weights
from components.versions import fetch_model, model_path


@tabular_component
def bless_model(
    model: Input[Model],
    metrics: Input[Metrics],
    trivial_metrics: Input[Metrics],
    test: Input[Dataset],
    decision: Output[Markdown],
    decision_metrics: Output[Metrics],
    min_metric: str = "auto",
    min_value: float = 0.0,
    min_lift: float = 0.05,
    tolerance: float = 0.01,
    baseline_model_uri: str = "",
    minio_endpoint: str = "http://seaweedfs.kubeflow:9000",
    declared_memory_limit: str = "",
) -> NamedTuple("Outputs", blessed=bool, reasons=list):
    """Blesses a model that beats a trivial one, clears the threshold and matches the baseline.

    The new model's score is read from its test-set ``metrics``. The trivial
    model predicts the training class shares for every row (so the majority
    class; chance for ``balanced_accuracy``), or for regression the training
    mean, and is scored on the same test rows by ``evaluate_model``
    (``trivial_metrics``): the new model must beat it by the larger of ``min_lift`` of the gap
    between that score and a perfect one (1, or 0 for ``log_loss``) and what
    chance alone reaches 1% of the time on this many test rows (a normal
    approximation; for regression and ``log_loss``, ``min_lift`` alone). A
    model on noise, or one that learnt too little, is not blessed however low
    ``min_value`` is.
    The baseline, when given, is scored on the same test rows (weighted by the
    new model's ``weight_column``, at the baseline's own threshold). For ``log_loss``
    lower is better: ``min_value`` is then a maximum (0 disables it) and the
    tolerance applies upwards. The baseline reads and predicts the test rows in
    chunks (200,000 rows, or the environment variable ``KFP_TABULAR_CHUNK_ROWS``).

    Args:
        model: The new model directory (its training class shares are read).
        metrics: Test-set metrics of the new model, from ``evaluate_model``.
        trivial_metrics: The trivial model's test-set metrics, from ``evaluate_model``.
        test: The test rows (their class counts set the chance margin; the
            baseline is scored on them).
        min_metric: The metric to judge by (any of ``evaluate_model``'s); ``auto``:
            ``balanced_accuracy`` for classification, ``r2`` for regression.
        min_value: The least score a model needs; 0 accepts any.
        min_lift: Share of the way from the trivial model's score to a perfect
            one that the new model must cover; 0 only asks it to do no worse.
        tolerance: How much worse than the baseline the new model may score.
        baseline_model_uri: The model in production, if any: a model directory, a
            version folder, or an export location (its current version), as a local
            path or an object-store URI. Read by the step itself, so only the chosen
            version is downloaded.
        minio_endpoint: S3 endpoint of KFP's object store for ``minio://`` URIs.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``heavy_memory_limit``); a lower cgroup limit wins. With a baseline,
            chunks shrink to fit it; where not even 1,000 rows fit, the step
            stops and says so.

    Returns:
        decision: Markdown: blessed or not, and why, with the scores.
        decision_metrics: ``blessed`` (1 or 0), ``new_value``, ``trivial_value``,
            ``baseline_value`` (when there is a baseline), ``min_value``,
            ``min_lift``, ``tolerance``.
        blessed: Whether the new model may be exported.
        reasons: One line per check, passed or failed.
    """
    from collections import namedtuple

    import numpy as np
    import pyarrow.parquet as pq  # not pandas: 0.4 s less to start this small step (measured)

    meta = read_model_metadata(*model_path(model))
    task = meta.get("task", "classification")
    min_metric = resolve_metric(min_metric, task, "min_metric")
    scores = dict(metrics.metadata)
    if min_metric not in scores:
        available = sorted(name for name in scores if name != "test_rows")
        fail(f"min_metric {min_metric!r} is not among the test metrics {available}.")
    lower = lower_is_better(min_metric)
    new_value = float(scores[min_metric])
    reasons, blessed = [], True

    truth = pq.read_table(test.path, columns=[meta["target_column"]]).column(0).to_numpy()
    trivial_value = dict(trivial_metrics.metadata).get(min_metric)
    trivial = "the training mean" if task == "regression" else "the training class shares"
    if trivial_value is not None:
        # What chance alone reaches 1% of the time on this many test rows (normal
        # approximation; z = 2.33): a few rows make a score noisy.
        n = len(truth)
        k = len(meta.get("classes", [])) or 1
        class_rows = np.unique(truth, return_counts=True)[1]
        if task == "regression" or min_metric == "log_loss":
            spread = 0.0  # no simple chance model: min_lift alone
        elif min_metric == "accuracy":
            spread = np.sqrt(trivial_value * (1 - trivial_value) / n)
        elif min_metric == "roc_auc":
            positives = n / k
            spread = np.sqrt((n + 1) / (12 * positives * (n - positives)))
        else:  # balanced accuracy and the macro averages: a mean of per-class rates
            spread = np.sqrt((1 / k) * (1 - 1 / k) * np.sum(1 / class_rows)) / k
        perfect = 0.0 if lower else 1.0
        lift = max(min_lift * abs(perfect - trivial_value), 2.33 * spread)
        needed = trivial_value - lift if lower else trivial_value + lift
        ok = new_value <= needed if lower else new_value >= needed
        reasons.append(
            f"{min_metric} {new_value:.4f} vs {trivial_value:.4f} for a trivial model predicting "
            f"{trivial}: {'beats' if ok else 'does not beat'} it by enough "
            f"(needs {'≤' if lower else '≥'} {needed:.4f}: min_lift={min_lift:g} of "
            f"the way to {perfect:g}, or what chance reaches 1% of the time on {n} rows)"
        )
        blessed &= ok

    if lower and min_value > 0:
        ok = new_value <= min_value
        reasons.append(
            f"{min_metric} {new_value:.4f} {'≤' if ok else '>'} the maximum {min_value:.4f}"
        )
        blessed &= ok
    elif not lower:
        ok = new_value >= min_value
        reasons.append(
            f"{min_metric} {new_value:.4f} {'≥' if ok else '<'} the minimum {min_value:.4f}"
        )
        blessed &= ok

    baseline_value = None
    if baseline_model_uri:
        import pandas as pd

        names = pq.ParquetFile(test.path).schema_arrow.names
        baseline_dir, baseline_uri = fetch_model(baseline_model_uri, minio_endpoint)
        estimator, old = load_model_dir(baseline_dir, baseline_uri)
        target = old["target_column"]
        if target not in names:
            fail(f"{baseline_uri}: the baseline predicts {target!r}, which the test rows lack.")
        if old.get("task", "classification") != task:
            fail(
                f"{baseline_uri}: the baseline is a {old.get('task', 'classification')} model; "
                f"the new one is {task}. Compare models of the same task."
            )
        # Weighted as the new model's test metrics are; at the baseline's own threshold.
        weight_column = meta.get("weight_column", "")
        if weight_column and weight_column not in names:
            fail(f"{test.uri}: weight column {weight_column!r} not found; columns are {names}.")
        columns = [weight_column] if weight_column else []
        weights = row_weights(pd.read_parquet(test.path, columns=columns), weight_column, test.uri)
        # The test rows in chunks: their targets and the baseline's outputs kept; only
        # min_metric scored (each metric holds its own copies of the rows).
        rows = chunk_rows_within(  # as evaluate_model, which scores the same rows
            "bless_model", "heavy_memory_limit", declared_memory_limit,
            10 * parquet_row_bytes(test.path), chunk_rows(),
            held=len(truth) * (24 * max(len(old.get("classes", [])), 1) + 64),
        )  # fmt: skip
        truth, output, _, _ = predict_labelled(
            estimator, test.path, old["features"], target, task, test.uri, rows=rows
        )
        if task == "regression":
            baseline_scores = score_regression(truth, output, min_metric, weights)
        else:
            threshold = old.get("threshold")
            classes = estimator.classes_
            baseline_scores = score_predictions(
                truth, output, classes, min_metric, weights, threshold
            )
        if min_metric not in baseline_scores:
            fail(f"{min_metric} is undefined for the baseline on these test rows; choose another.")
        baseline_value = baseline_scores[min_metric]
        margin = baseline_value + tolerance if lower else baseline_value - tolerance
        ok = new_value <= margin if lower else new_value >= margin
        reasons.append(
            f"{min_metric} {new_value:.4f} vs baseline {baseline_value:.4f} "
            f"(tolerance {tolerance:.4f}): {'not worse' if ok else 'worse'}"
        )
        blessed &= ok
    else:
        reasons.append("no baseline model to compare with")

    decision_metrics.log_metric("blessed", int(blessed))
    decision_metrics.log_metric("new_value", round(new_value, 6))
    if trivial_value is not None:
        decision_metrics.log_metric("trivial_value", round(trivial_value, 6))
    if baseline_value is not None:
        decision_metrics.log_metric("baseline_value", round(baseline_value, 6))
    decision_metrics.log_metric("min_value", min_value)
    decision_metrics.log_metric("min_lift", min_lift)
    decision_metrics.log_metric("tolerance", tolerance)
    verdict = "Blessed" if blessed else "Not blessed"
    with open(decision.path, "w", encoding="utf-8") as handle:
        handle.write(f"# {verdict}\n\n" + "".join(f"- {reason}\n" for reason in reasons))
    print(f"{verdict}: " + "; ".join(reasons))
    exit_quickly()
    outputs = namedtuple("Outputs", ["blessed", "reasons"])
    return outputs(bool(blessed), reasons)
