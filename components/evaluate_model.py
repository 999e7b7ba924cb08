"""Component: score the model on the held-out test split."""

from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.features import select_features
from components.runtime import tabular_component
from components.shared import fail, load_model_dir
from components.tasks import score_predictions


@tabular_component
def evaluate_model(
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    report: Output[HTML],
):
    """Measures the model on held-out rows it never saw in training.

    Args:
        model: Model directory from ``train_model``.
        test: Parquet table of held-out rows from ``split_data``, target included.

    Returns:
        metrics: ``accuracy``, ``balanced_accuracy``, ``precision_macro``,
            ``recall_macro``, ``f1_macro``, ``roc_auc`` (binary, or one-vs-rest
            macro average for several classes) and ``log_loss``, plus
            ``test_rows``. ``roc_auc`` is left out when the test rows do not hold
            every class, as it is then undefined.
        classification_metrics: Confusion matrix (up to 30 classes), and the
            ROC curve for two classes (at most 101 points, the first and last kept).
        report: HTML page with the metrics, the per-class classification report
            and the confusion matrix; the Kubeflow UI renders it.
    """
    import html

    import numpy as np
    import pandas as pd
    from sklearn import metrics as sk

    estimator, meta = load_model_dir(model.path, model.uri)
    target_column = meta["target_column"]
    frame = pd.read_parquet(test.path)
    if target_column not in frame.columns:
        fail(f"{test.uri}: target column {target_column!r} not found; the test rows must hold it.")
    truth = frame[target_column].to_numpy()
    inputs = select_features(frame, meta["features"], test.uri)
    # One pass through the forest; predict() would compute the probabilities again.
    proba = estimator.predict_proba(inputs)
    predicted = estimator.classes_[proba.argmax(axis=1)]
    classes = estimator.classes_

    scores = score_predictions(truth, proba, classes)
    notes = []
    if "roc_auc" not in scores:
        notes.append("roc_auc is undefined: the test rows do not hold every class.")
    for name, value in scores.items():
        metrics.log_metric(name, round(float(value), 6))
    metrics.log_metric("test_rows", len(frame))

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
        fpr, tpr, thresholds = sk.roc_curve(truth == classes[1], proba[:, 1])
        points = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 101)).round().astype(int))
        # The first threshold is +inf, which JSON and the Kubeflow UI cannot show.
        thresholds = np.minimum(thresholds[points], 1.0)
        classification_metrics.log_roc_curve(
            fpr[points].tolist(), tpr[points].tolist(), thresholds.tolist()
        )

    per_class = pd.DataFrame(
        sk.classification_report(
            truth, predicted, labels=classes, target_names=labels, output_dict=True, zero_division=0
        )
    ).T.drop(index="accuracy", errors="ignore")
    per_class = per_class.round(4).astype({"support": "int64"})
    confusion = pd.DataFrame(
        matrix,
        index=[f"true {label}" for label in labels],
        columns=[f"predicted {label}" for label in labels],
    )
    summary = pd.DataFrame({"value": {name: round(float(v), 4) for name, v in scores.items()}})
    notes_html = "".join(f"<p>{html.escape(note)}</p>" for note in notes)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Evaluation report</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;margin-bottom:1.5em}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}</style></head><body>
<h1>Evaluation on {len(frame)} held-out rows</h1>
<p>Target column: <b>{html.escape(str(target_column))}</b>; model trained on
{meta["training_rows"]} rows with scikit-learn {html.escape(meta["framework_version"])}.</p>
{notes_html}
<h2>Metrics</h2>{summary.to_html()}
<h2>Classification report</h2>{per_class.to_html()}
<h2>Confusion matrix</h2>{confusion.to_html()}
</body></html>
"""
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)
    print("Test-set metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in scores.items()))
