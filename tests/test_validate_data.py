"""validate_data as a plain function: the profile, each warning kind, exclusions and fail_on."""

import pathlib

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import validate_data
from tests.conftest import dataset


def validate(frame, tmp_path, target="y", **options):
    table = tmp_path / "table"
    frame.to_parquet(table)
    report = HTML(name="report", uri=str(tmp_path / "report.html"), metadata={})
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={})
    result = validate_data.python_func(
        data=dataset(table), report=report, metrics=metrics, target_column=target, **options
    )
    return result, metrics.metadata, pathlib.Path(report.path).read_text()


def kinds(result):
    return sorted({line.split(":", 1)[0] for line in result.warnings})


def clean_frame(rows=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "height": rng.normal(170, 10, rows),  # unique per row, but a measurement, not an ID
            "x": x,
            "colour": rng.choice(["red", "green", "blue"], rows),
            "y": np.where(x + rng.normal(0, 1, rows) > 0, "yes", "no"),
        }
    )


def test_clean_data_has_no_warnings_and_a_full_profile(tmp_path):
    result, metrics, page = validate(clean_frame(), tmp_path)
    assert result.warnings == [] and result.excluded_columns == []
    assert metrics["rows"] == 200 and metrics["warnings"] == 0
    assert 0.3 < metrics["minority_class_share"] <= 0.5
    for text in ("Class balance", "height", "colour", "red (", "Warnings (0)"):
        assert text in page


def test_messy_data_flags_the_id_and_the_numbers_stored_as_text(messy_csv, tmp_path):
    frame = pd.read_csv(messy_csv).dropna(subset=["churned"]).reset_index(drop=True)
    frame["churned"] = frame["churned"].str.strip()  # as load_data does
    result, metrics, page = validate(frame, tmp_path, target="churned")
    assert result.excluded_columns == ["customer_id"]
    assert kinds(result) == ["id_like", "numeric_as_text"]
    assert any("'monthly_fee'" in line and "['?']" in line for line in result.warnings)
    assert metrics["warnings_id_like"] == 1 and metrics["excluded_columns"] == 1
    assert "customer_id" in page and "numeric_as_text" in page


def test_constant_column(tmp_path):
    result, metrics, _ = validate(clean_frame().assign(source="web"), tmp_path)
    assert kinds(result) == ["constant"] and metrics["warnings_constant"] == 1


def test_sequential_integer_id_and_named_id(tmp_path):
    frame = clean_frame().assign(row_number=range(1, 201), order_id=np.arange(200) * 7 + 1000)
    result, _, _ = validate(frame, tmp_path)
    assert sorted(result.excluded_columns) == ["order_id", "row_number"]


def test_keep_id_columns(tmp_path):
    result, _, _ = validate(
        clean_frame().assign(row_number=range(200)), tmp_path, keep_id_columns=True
    )
    assert kinds(result) == ["id_like"] and result.excluded_columns == []


def test_a_recoded_copy_of_the_target_is_a_leak(tmp_path):
    frame = clean_frame()
    frame["outcome_code"] = frame["y"].map({"yes": 1, "no": 0})
    result, _, _ = validate(frame, tmp_path)
    assert kinds(result) == ["leak"]
    assert "'outcome_code' alone predicts 'y' for 100.0% of rows" in result.warnings[0]


def test_a_score_derived_from_the_target_is_a_leak(tmp_path):
    frame = clean_frame(rows=1000)
    rng = np.random.default_rng(1)
    frame["risk_score"] = (frame["y"] == "yes") * 10 + rng.normal(0, 1, 1000)
    result, _, _ = validate(frame, tmp_path)
    assert kinds(result) == ["leak"]


def test_rare_class_is_an_imbalance(tmp_path):
    frame = clean_frame()
    frame.loc[:4, "y"] = "rare"
    result, metrics, _ = validate(frame, tmp_path)
    assert kinds(result) == ["imbalance"]
    assert "class 'rare' holds 2.5% of rows" in result.warnings[0]
    assert metrics["minority_class_share"] == pytest.approx(0.025)


def test_fail_on_chosen_warnings_stops_with_every_reason(tmp_path):
    frame = clean_frame().assign(source="web", row_number=range(200))
    with pytest.raises(
        SystemExit, match=r"2 validation warning\(s\) in fail_on: constant: .*; id_like: "
    ):
        validate(frame, tmp_path, fail_on=["constant", "id_like", "leak"])
    assert (tmp_path / "report.html").is_file()  # the report says why, for the UI


def test_unknown_fail_on_kind(tmp_path):
    with pytest.raises(SystemExit, match=r"unknown warning kinds \['leaks'\]; choose among"):
        validate(clean_frame(), tmp_path, fail_on=["leaks"])
