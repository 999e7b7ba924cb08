"""Component: score the model on the held-out test split."""

from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.memory import chunk_rows_within
from components.reports import (
    classification_charts,
    html_page,
    importance_chart,
    importance_rows,
    permutation_importances,
    regression_charts,
)
from components.runtime import tabular_component
from components.scoring import predict_labelled
from components.shared import chunk_rows, exit_quickly, fail, idle_threads_sleep, load_model_dir
from components.tables import parquet_row_bytes
from components.tasks import score_predictions, score_regression, trivial_scores
from components.training_options import row_weights


@tabular_component
def evaluate_model(
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    trivial_metrics: Output[Metrics],
    report: Output[HTML],
    declared_memory_limit: str = "",
):
    """Measures the model on held-out rows it never saw in training.

    The test rows are read and predicted in chunks (200,000 rows, or the
    environment variable ``KFP_TABULAR_CHUNK_ROWS``); only their targets, the
    model's outputs (a few bytes a row) and the rows permutation importance
    shuffles are kept, and the figures are those of one pass.

    Args:
        model: Model directory from ``train_model``.
        test: Parquet table of held-out rows from ``split_data``, target included.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``heavy_memory_limit``); a lower cgroup limit wins. Chunks shrink to
            fit it; where not even 1,000 rows fit, the step stops and says so.

    Returns:
        metrics: ``accuracy``, ``balanced_accuracy``, ``precision_macro``,
            ``recall_macro``, ``f1_macro``, ``roc_auc`` (binary, or one-vs-rest
            macro average for several classes) and ``log_loss``, for two
            classes ``precision`` and ``recall`` of the positive class and the
            decision ``threshold`` (0.5 unless tuned), plus ``test_rows``;
            weighted by the model's ``weight_column`` when it has one.
            ``roc_auc`` is left out when the test rows do not hold every
            class, as it is then undefined. For regression: ``r2``,
            ``rmse``, ``mae``, ``mape`` and ``max_error``. Also
            ``importance_<column>`` for the five columns that matter most
            (permutation importance, below).
        classification_metrics: Confusion matrix (up to 30 classes), and the
            ROC curve for two classes (at most 101 points, the first and last kept).
        trivial_metrics: The same metrics for a trivial model that predicts
            the training class shares (classification) or the training mean
            (regression) for every row: the yardstick ``bless_model`` measures
            the lift against.
        report: HTML page with the split method and sizes, the weights'
            summary and the tuned threshold's choice (if any); the metrics
            beside the trivial model's; the
            permutation importance of every raw column (how much the score
            drops when its values are shuffled: at most 1,000 test rows, up to 5
            repeats, within 40,000 shuffled rows predicted), as a bar
            chart, a table, and JSON in ``<script id="importance">``; charts
            (ROC, precision-recall and calibration curves and confusion-matrix
            heat-maps, or predicted against actual and residuals); the
            per-class classification report and the confusion matrix. The
            Kubeflow UI renders it.
    """
    idle_threads_sleep()  # before scikit-learn loads OpenMP
    import html
    import json

    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from sklearn import metrics as sk

    estimator, meta = load_model_dir(model.path, model.uri)
    target_column = meta["target_column"]
    table = pq.ParquetFile(test.path)
    names, total = table.schema_arrow.names, table.metadata.num_rows
    if target_column not in names:
        fail(f"{test.uri}: target column {target_column!r} not found; the test rows must hold it.")
    task = meta.get("task", "classification")
    weight_column = meta.get("weight_column", "")
    if weight_column and weight_column not in names:
        fail(f"{test.uri}: weight column {weight_column!r} not found; columns are {names}.")
    columns = [weight_column] if weight_column else []
    weights = row_weights(pd.read_parquet(test.path, columns=columns), weight_column, test.uri)
    threshold = meta.get("threshold")
    # The test rows in chunks: their targets and the model's outputs kept (a few bytes a
    # row), and the rows permutation importance shuffles.
    shuffled, _, _ = importance_rows(total, len(meta["features"]))
    # A chunk costs about 10 times its pandas size while the model scores it (its
    # features transformed); held whole: each row's target and outputs, and the
    # metrics' copies of them (measured: 110 bytes a test row with two classes).
    rows = chunk_rows_within(
        "evaluate_model", "heavy_memory_limit", declared_memory_limit,
        10 * parquet_row_bytes(test.path), chunk_rows(),
        held=total * (24 * max(len(meta.get("classes", [])), 1) + 64),
    )  # fmt: skip
    truth, output, decisions, inputs = predict_labelled(
        estimator, test.path, meta["features"], target_column, task, test.uri,
        decide=threshold is not None, keep=shuffled if shuffled is not None else np.empty(0, int),
        rows=rows,
    )  # fmt: skip
    if task == "regression":
        scores = score_regression(truth, output, weights=weights)
    else:
        scores = score_predictions(truth, output, estimator.classes_, "", weights, threshold)
    if len(meta.get("classes", [])) == 2:
        scores["threshold"] = 0.5 if threshold is None else threshold
    notes = []
    if task == "classification" and "roc_auc" not in scores:
        notes.append("roc_auc is undefined: the test rows do not hold every class.")
    if task == "regression" and "mape" not in scores:
        notes.append("mape is undefined: a true value is 0.")
    for name, value in scores.items():
        metrics.log_metric(name, round(float(value), 6))
    metrics.log_metric("test_rows", total)
    trivial = trivial_scores(meta, truth, weights)
    for name, value in trivial.items():
        trivial_metrics.log_metric(name, round(float(value), 6))
    summary = pd.DataFrame(
        {
            "model": {name: round(float(v), 4) for name, v in scores.items()},
            "trivial model": {name: round(float(v), 4) for name, v in trivial.items()},
        }
    )

    if task == "regression":
        # No classification_metrics for regression: KFP keeps the artifact, empty.
        errors = pd.DataFrame({"actual": truth.astype(float), "error": output - truth})
        errors["decile"] = pd.qcut(errors["actual"], 10, labels=False, duplicates="drop") + 1
        by_decile = errors.groupby("decile").agg(
            rows=("actual", "size"),
            actual_from=("actual", "min"),
            actual_to=("actual", "max"),
            mean_error=("error", "mean"),
            mean_absolute_error=("error", lambda e: e.abs().mean()),
        )
        details = (
            f"<h2>Charts</h2>{regression_charts(truth, output, str(target_column))}"
            "<h2>Error by decile of the actual value</h2>"
            "<p>mean_error above 0: the model predicts too high in that range.</p>"
            f"{by_decile.round(4).to_html()}"
        )
    else:  # classification: ``output`` holds the class probabilities
        classes = estimator.classes_
        predicted = decisions if threshold is not None else classes[output.argmax(axis=1)]
        labels = [str(label) for label in classes]
        matrix = sk.confusion_matrix(truth, predicted, labels=classes)
        # Artifact metadata travels on the command line (see ``bounded``): past 30
        # classes the matrix stays in the report only, and the curve keeps 101 points.
        if len(classes) <= 30:
            classification_metrics.log_confusion_matrix(labels, matrix.tolist())
        else:
            notes.append(
                f"The {len(classes)}-class confusion matrix is in this report only; the "
                "classification_metrics artifact holds matrices of up to 30 classes."
            )
        if len(classes) == 2 and "roc_auc" in scores:
            fpr, tpr, thresholds = sk.roc_curve(truth == classes[1], output[:, 1])
            points = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 101)).round().astype(int))
            # The first threshold is +inf, which JSON and the Kubeflow UI cannot show.
            thresholds = np.minimum(thresholds[points], 1.0)
            classification_metrics.log_roc_curve(
                fpr[points].tolist(), tpr[points].tolist(), thresholds.tolist()
            )

        per_class = pd.DataFrame(
            sk.classification_report(
                truth,
                predicted,
                labels=classes,
                target_names=labels,
                output_dict=True,
                zero_division=0,
            )
        ).T.drop(index="accuracy", errors="ignore")
        per_class = per_class.round(4).astype({"support": "int64"})
        confusion = pd.DataFrame(
            matrix,
            index=[f"true {label}" for label in labels],
            columns=[f"predicted {label}" for label in labels],
        )
        details = (
            f"<h2>Charts</h2>{classification_charts(truth, output, classes, threshold)}"
            f"<h2>Classification report</h2>{per_class.to_html()}"
            f"<h2>Confusion matrix</h2>{confusion.to_html()}"
        )

    scorer = "r2" if task == "regression" else "balanced_accuracy"
    importances, sampled = permutation_importances(
        estimator, inputs, truth[shuffled if shuffled is not None else []], scorer, total
    )
    for entry in importances[:5]:
        metrics.log_metric(f"importance_{entry['column']}"[:100], entry["mean"])
    data = json.dumps(importances).replace("</", "<\\/")
    measure = f"how much {scorer} drops when a column's values are shuffled"
    explained = (
        "<h2>Which columns drive the predictions</h2>"
        f'<script type="application/json" id="importance">{data}</script>'
    )
    if importances:
        ranked = pd.DataFrame(importances).set_index("column").round(4)
        explained += (
            f"<p>Permutation importance: {measure}, the whole model scoring "
            f"({html.escape(sampled)}); ± the spread over repeats.</p>"
            f"{importance_chart(importances, sampled)}{ranked.to_html()}"
        )
    else:  # a table too wide to shuffle column by column in time
        explained += f"<p>Permutation importance ({measure}) not computed: {sampled}.</p>"

    split = f"Split: {test.metadata.get('split', 'random, stratified')}, "
    notes.insert(0, f"{split}{meta['training_rows']} training rows, {total} test rows.")
    if weights is not None:
        notes.insert(
            1,
            f"Weights from {meta['weight_column']!r} (test rows): sum {weights.sum():.4g}, "
            f"min {weights.min():.4g}, mean {weights.mean():.4g}, max {weights.max():.4g}, "
            f"{int((weights == 0).sum())} zero; the metrics are weighted.",
        )
    if threshold is not None:
        choice = meta["threshold_choice"]
        notes.append(
            f"Decision threshold {threshold:.4f} for {choice['objective']}, chosen on "
            f"{choice['rows']} held-out training rows ({choice['how']}: precision "
            f"{choice['precision']:.4f}, recall {choice['recall']:.4f}); on the test rows "
            f"precision {scores['precision']:.4f}, recall {scores['recall']:.4f}."
        )
    notes_html = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    page = html_page(
        f"Evaluation on {total} held-out rows ({task})",
        f"<p>Target column: <b>{html.escape(str(target_column))}</b>; model "
        f"<b>{html.escape(str(meta['hyperparameters'].get('model', 'random_forest')))}</b> "
        f"trained on {meta['training_rows']} rows with scikit-learn "
        f"{html.escape(meta['framework_version'])}.</p>{notes_html}"
        f"<h2>Metrics</h2>{summary.to_html()}{explained}{details}",
    )
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)
    print("Test-set metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items()))
    exit_quickly()
