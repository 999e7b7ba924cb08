"""detect_drift as a plain function: PSI, unseen categories, missing shares and thresholds."""

import pathlib
import re

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import detect_drift
from tests.conftest import dataset, make_messy_frame, train_on_csv


def customers(rows, seed):
    """The messy table as validation leaves it: numeric fees, and the ID column excluded below."""
    frame = make_messy_frame(rows=rows, seed=seed)
    frame["monthly_fee"] = pd.to_numeric(frame["monthly_fee"], errors="coerce")
    return frame


@pytest.fixture
def model(tmp_path):
    csv = tmp_path / "train.csv"
    customers(600, seed=0).to_csv(csv, index=False)
    return train_on_csv(csv, "churned", tmp_path / "trained", exclude_columns=["customer_id"])[0]


def drift(model, frame, tmp_path, **thresholds):
    csv = tmp_path / "score.csv"
    frame.to_csv(csv, index=False)
    report = HTML(name="report", uri=str(tmp_path / "drift.html"), metadata={})
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={})
    detect_drift.python_func(
        model=model, data=dataset(csv), report=report, metrics=metrics, **thresholds
    )
    return metrics.metadata, pathlib.Path(report.path).read_text()


def fresh_rows(rows=600, seed=7):
    return customers(rows, seed).drop(columns="churned")


def test_rows_like_the_training_rows_are_stable(model, tmp_path):
    metrics, page = drift(model, fresh_rows(), tmp_path)
    assert metrics["max_psi"] < 0.1
    assert metrics["columns_drifted"] == 0
    assert metrics["max_new_category_share"] == 0
    assert "tenure_months" in page and "<td>drifted</td>" not in page
    from tests.test_evaluate_model import figures

    ((_, caption),) = figures(page)
    assert caption.startswith("Every column is stable; the four with the largest PSI")


def test_a_shifted_numeric_column_drifts(model, tmp_path):
    rows = fresh_rows()
    rows["tenure_months"] = rows["tenure_months"] + 40
    metrics, page = drift(model, rows, tmp_path)
    assert metrics["max_psi"] > 0.25 and metrics["columns_drifted"] == 1
    assert "<td>drifted</td>" in page
    from tests.test_evaluate_model import figures

    ((alt, caption),) = figures(page)  # one image: a panel per column not stable
    assert caption.startswith("Columns not stable") and "one small bar chart per column" in alt


def test_new_categories_and_missing_values_are_measured(model, tmp_path):
    rows = fresh_rows()
    rows.loc[:299, "plan"] = "enterprise"
    rows.loc[:119, "paperless"] = np.nan
    metrics, _ = drift(model, rows, tmp_path)
    assert metrics["max_new_category_share"] == pytest.approx(0.5)
    assert metrics["max_missing_share_change"] == pytest.approx(0.2, abs=0.01)


def test_thresholds_stop_the_run(model, tmp_path):
    rows = fresh_rows()
    rows["tenure_months"] = rows["tenure_months"] * 3
    with pytest.raises(SystemExit, match=r"drift over the thresholds in tenure_months PSI \d"):
        drift(model, rows, tmp_path, max_psi=0.25)
    rows = fresh_rows()
    rows.loc[:99, "city"] = "Berlin"
    share = 100 / rows["city"].notna().sum()  # of the values present
    with pytest.raises(SystemExit, match=rf"in city {share:.1%} unseen categories\. Check"):
        drift(model, rows, tmp_path, max_new_category_share=0.1)


def test_schema_errors_come_before_drift(model, tmp_path):
    with pytest.raises(SystemExit, match=r"missing feature column\(s\) \['plan'\]"):
        drift(model, fresh_rows().drop(columns="plan"), tmp_path)


def test_same_rows_give_zero_drift(model, tmp_path):
    train = pd.read_parquet(pathlib.Path(model.path).parent / "train")
    metrics, _ = drift(model, train.drop(columns="churned"), tmp_path)
    assert metrics["max_psi"] == pytest.approx(0, abs=1e-6)
    assert metrics["max_missing_share_change"] == pytest.approx(0, abs=1e-6)


def test_few_rows_from_the_same_population_are_not_called_drift(model, tmp_path):
    for seed in range(5):
        metrics, page = drift(model, fresh_rows(rows=40, seed=seed + 20), tmp_path)
        assert metrics["columns_drifted"] == 0, seed
        assert "<td>moderate shift</td>" not in page, seed
    assert "psi_chance_limit" in page


def test_few_rows_strongly_shifted_are_still_drift(model, tmp_path):
    rows = fresh_rows(rows=40, seed=30)
    rows["monthly_fee"] = rows["monthly_fee"] + 100
    metrics, _ = drift(model, rows, tmp_path)
    assert metrics["columns_drifted"] == 1


def verdicts(page):
    """Column → verdict, read from the drift report's table."""
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)]
    return {cells[0]: cells[-1] for cells in rows if cells}


def test_a_column_all_unseen_or_emptied_is_drifted_whatever_its_psi(model, tmp_path):
    rows = fresh_rows(rows=50, seed=3)
    rows["plan"] = "enterprise"  # every value unseen in training
    rows["tenure_months"] = np.nan  # empty now, 10% missing in training
    metrics, page = drift(model, rows, tmp_path)
    found = verdicts(page)
    assert found["plan"] == "drifted" and found["tenure_months"] == "drifted"
    assert found["monthly_fee"] == "stable"
    assert metrics["columns_drifted"] == 2


def test_a_large_change_in_missing_values_is_drift_and_can_stop_the_run(model, tmp_path):
    rows = fresh_rows()
    rows.loc[:299, "monthly_fee"] = np.nan  # 50% missing now, ~0% in training
    _, page = drift(model, rows, tmp_path)
    assert verdicts(page)["monthly_fee"] == "drifted"
    with pytest.raises(SystemExit, match=r"in monthly_fee missing share \+\d+\.\d%\. Check"):
        drift(model, rows, tmp_path, max_missing_change=0.3)


def test_unshifted_samples_raise_no_false_alarm(model, tmp_path):
    """The false-alarm measurement: 100 samples of 40 rows from the training population."""
    population = fresh_rows(rows=4000, seed=99)
    alarms = 0
    for seed in range(100):
        sample = population.sample(40, random_state=seed)
        metrics, _ = drift(model, sample, tmp_path)
        alarms += metrics["columns_drifted"]
    assert alarms == 0
