"""bless_model, export_model and record_rejection as plain functions."""

import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import Markdown, Metrics

from components import bless_model, export_model, record_rejection
from tests.conftest import evaluate, model_artifact, train_on_csv, trivial_metrics


@pytest.fixture
def trained(tmp_path, messy_csv):
    """(model, test) trained on the messy table, and a much weaker baseline on the same rows."""
    model, _, test = train_on_csv(
        messy_csv, "churned", tmp_path / "good", exclude_columns=["customer_id"]
    )
    weak, _, _ = train_on_csv(
        messy_csv,
        "churned",
        tmp_path / "weak",
        exclude_columns=["customer_id"],
        max_depth=1,
        n_estimators=1,
    )
    return model, test, weak


def bless(tmp_path, test, new_scores, model=None, **options):
    decision = Markdown(name="decision", uri=str(tmp_path / "decision.md"), metadata={})
    numbers = Metrics(name="numbers", uri=str(tmp_path / "numbers"), metadata={})
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata=dict(new_scores))
    model = model or model_artifact(pathlib.Path(test.path).parent / "model")
    result = bless_model.python_func(
        model=model,
        metrics=metrics,
        trivial_metrics=trivial_metrics(model, test),
        test=test,
        decision=decision,
        decision_metrics=numbers,
        **options,
    )
    return result, numbers.metadata, pathlib.Path(decision.path).read_text()


def test_a_model_on_pure_noise_is_not_blessed_by_default(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(600, 5)), columns=[f"x{i}" for i in range(5)])
    frame["label"] = rng.choice(["a", "b", "c"], 600)
    frame.to_csv(tmp_path / "noise.csv", index=False)
    model, _, test = train_on_csv(tmp_path / "noise.csv", "label", tmp_path / "noise")
    scores, _, _ = evaluate(model, test, tmp_path)
    result, numbers, text = bless(tmp_path, test, scores, model=model)
    assert result.blessed is False
    assert numbers["trivial_value"] == pytest.approx(1 / 3, abs=1e-6)  # chance, balanced accuracy
    assert "does not beat it by enough" in text


def test_near_chance_is_not_blessed_and_the_margin_is_stated(trained, tmp_path):
    model, test, _ = trained
    truth = pd.read_parquet(test.path)["churned"]
    rows = truth.value_counts().to_numpy()
    chance_margin = 2.33 * np.sqrt(0.25 * np.sum(1 / rows)) / 2  # two classes
    needed = 0.5 + max(0.05 * 0.5, chance_margin)
    result, numbers, text = bless(tmp_path, test, {"balanced_accuracy": needed - 0.01}, model=model)
    assert result.blessed is False and numbers["trivial_value"] == pytest.approx(0.5)
    assert f"(needs ≥ {needed:.4f}" in text and f"on {len(truth)} rows" in text
    assert bless(tmp_path, test, {"balanced_accuracy": needed + 0.01}, model=model)[0].blessed


def test_many_classes_need_more_than_their_tiny_chance(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.repeat([f"c{i}" for i in range(60)], 12)
    frame = pd.DataFrame({"x": rng.normal(size=len(labels)), "y": labels})
    frame.to_csv(tmp_path / "sixty.csv", index=False)
    model, _, test = train_on_csv(tmp_path / "sixty.csv", "y", tmp_path / "sixty")
    result, numbers, _ = bless(tmp_path, test, {"balanced_accuracy": 0.036}, model=model)
    assert numbers["trivial_value"] == pytest.approx(1 / 60, abs=1e-6)  # logged to 6 places
    assert result.blessed is False


def test_the_trivial_model_for_log_loss_and_accuracy(trained, tmp_path):
    model, test, _ = trained
    frame = pd.read_parquet(test.path)
    majority_share = frame["churned"].value_counts(normalize=True).iloc[0]
    _, numbers, _ = bless(tmp_path, test, {"accuracy": 0.99}, model=model, min_metric="accuracy")
    assert numbers["trivial_value"] == pytest.approx(majority_share)
    result, numbers, _ = bless(
        tmp_path, test, {"log_loss": 0.69}, model=model, min_metric="log_loss"
    )
    assert result.blessed is False and numbers["trivial_value"] < 0.72  # priors' cross-entropy


def test_blessed_without_baseline_when_the_threshold_is_cleared(trained, tmp_path):
    model, test, _ = trained
    result, numbers, text = bless(
        tmp_path, test, {"balanced_accuracy": 0.8}, model=model, min_value=0.7
    )
    assert result.blessed is True
    assert text.startswith("# Blessed") and "0.8000 ≥ the minimum 0.7000" in text
    assert numbers["blessed"] == 1 and "baseline_value" not in numbers


def test_rejected_below_the_threshold(trained, tmp_path):
    model, test, _ = trained
    result, numbers, text = bless(
        tmp_path, test, {"balanced_accuracy": 0.6}, model=model, min_value=0.7
    )
    assert result.blessed is False and numbers["blessed"] == 0
    assert text.startswith("# Not blessed") and "0.6000 < the minimum 0.7000" in text


def test_the_baseline_is_scored_on_the_same_rows(trained, tmp_path):
    model, test, weak = trained
    better, numbers, _ = bless(
        tmp_path, test, {"balanced_accuracy": 0.75}, model=model, baseline_model_uri=weak.path
    )
    assert better.blessed is True
    assert numbers["baseline_value"] < 0.75
    worse, _, text = bless(
        tmp_path,
        test,
        {"balanced_accuracy": numbers["baseline_value"] - 0.05},
        model=model,
        baseline_model_uri=weak.path,
    )
    assert worse.blessed is False and ": worse" in text


def test_log_loss_is_lower_is_better(trained, tmp_path):
    model, test, _ = trained
    options = {"model": model, "min_metric": "log_loss", "min_value": 0.5}
    assert bless(tmp_path, test, {"log_loss": 0.3}, **options)[0].blessed
    assert not bless(tmp_path, test, {"log_loss": 0.7}, **options)[0].blessed


def test_unknown_min_metric(trained, tmp_path):
    model, test, _ = trained
    with pytest.raises(SystemExit, match=r"min_metric 'auc' is not a classification metric; use"):
        bless(tmp_path, test, {"accuracy": 0.9, "test_rows": 10}, model=model, min_metric="auc")
    with pytest.raises(SystemExit, match=r"'roc_auc' is not among the test metrics \['accuracy'\]"):
        bless(tmp_path, test, {"accuracy": 0.9, "test_rows": 10}, model=model, min_metric="roc_auc")


def test_export_adds_a_version_and_leaves_the_earlier_one_whole(trained, tmp_path):
    model, _, weak = trained
    serving = tmp_path / "serving" / "churn"
    first = export_model.python_func(model=weak, export_uri=str(serving))
    second = export_model.python_func(model=model, export_uri=str(serving))
    assert sorted(p.name for p in serving.iterdir()) == sorted(
        [first.version, second.version, "pointer"]
    )
    for output, source in ((first, weak), (second, model)):
        assert (serving / output.version / "model.joblib").read_bytes() == (
            pathlib.Path(source.path) / "model.joblib"
        ).read_bytes()
    assert sorted(p.name for p in serving.parent.iterdir()) == ["churn"]  # no leftovers


def test_export_without_a_destination_does_nothing(trained, tmp_path, capsys):
    model, _, _ = trained
    export_model.python_func(model=model, export_uri="")
    assert "No export_uri set" in capsys.readouterr().out


def test_export_onto_itself_is_refused(trained):
    model, _, _ = trained
    with pytest.raises(SystemExit, match="is the model's own location"):
        export_model.python_func(model=model, export_uri=model.path)


def test_export_to_an_unwritable_place(trained, tmp_path):
    model, _, _ = trained
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="cannot write the model to"):
        export_model.python_func(model=model, export_uri=str(blocker / "model"))


def test_rejection_note_lists_the_reasons(tmp_path):
    note = Markdown(name="note", uri=str(tmp_path / "note.md"), metadata={})
    record_rejection.python_func(note=note, reasons=["balanced_accuracy 0.6 < the minimum 0.7"])
    assert pathlib.Path(note.path).read_text() == (
        "# Not exported\n\n- balanced_accuracy 0.6 < the minimum 0.7\n"
    )


def test_the_baseline_scored_in_chunks_scores_as_in_one(trained, tmp_path, monkeypatch):
    """7-row chunks of the test rows give the baseline the score of one chunk (a one-tree
    forest: its probabilities do not depend on threads)."""
    model, test, weak = trained
    scores = {"balanced_accuracy": 0.75}
    _, whole, _ = bless(tmp_path, test, scores, model=model, baseline_model_uri=weak.path)
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    _, chunked, _ = bless(tmp_path, test, scores, model=model, baseline_model_uri=weak.path)
    assert chunked == whole and "baseline_value" in whole
