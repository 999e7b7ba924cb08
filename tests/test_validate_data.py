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
    assert (
        "1 of 3 classes hold under 0.2 of an even share (6.7% of rows): 'rare' (2.5%)"
        in (result.warnings[0])
    )
    assert metrics["minority_class_share"] == pytest.approx(0.025)


def test_many_balanced_classes_are_not_an_imbalance(tmp_path):
    frame = clean_frame(rows=600).assign(y=[f"c{i % 60}" for i in range(600)])
    result, _, _ = validate(frame, tmp_path)
    assert "imbalance" not in kinds(result)


def test_many_rare_classes_make_one_line(tmp_path):
    labels = ["big"] * 500 + [f"r{i}" for i in range(20)] * 2
    frame = clean_frame(rows=540).assign(y=labels)
    result, _, _ = validate(frame, tmp_path)
    (line,) = [w for w in result.warnings if w.startswith("imbalance")]
    assert line.startswith("imbalance: 20 of 21 classes hold under 0.2 of an even share")
    assert "and 15 more" in line


@pytest.mark.parametrize("name", ["Unnamed: 0", "rownames", "index", "row_number"])
def test_a_row_index_written_with_the_file_is_id_like(tmp_path, name):
    frame = clean_frame()
    # Rows were dropped after the index was made: unique, increasing, with gaps.
    frame.insert(0, name, np.sort(np.random.default_rng(2).choice(400, 200, replace=False)))
    result, _, _ = validate(frame, tmp_path)
    assert kinds(result) == ["id_like"] and result.excluded_columns == [name]


def test_increasing_unique_integers_are_id_like_whatever_their_name(tmp_path):
    frame = clean_frame()
    frame.insert(0, "n", np.arange(0, 600, 3) + np.random.default_rng(3).integers(0, 2, 200))
    result, _, _ = validate(frame, tmp_path)
    assert result.excluded_columns == ["n"]


def test_the_report_says_what_loading_dropped(tmp_path):
    table = tmp_path / "table"
    clean_frame().to_parquet(table)
    data = dataset(table)
    data.metadata.update(
        rows_read=213, rows_dropped=13, drop_reasons={"missing target": 13},
        dropped_columns={"notes": "no values"},
    )  # fmt: skip
    report = HTML(name="report", uri=str(tmp_path / "report.html"), metadata={})
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata={})
    validate_data.python_func(data=data, report=report, metrics=metrics, target_column="y")
    page = pathlib.Path(report.path).read_text()
    assert (
        "<b>Dropped on loading:</b> 13 of 213 rows (missing target: 13); "
        "columns [&#x27;notes&#x27;] (no values)." in page
    )


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


def test_the_report_charts_the_class_balance_and_every_column(messy_csv, tmp_path):
    from tests.test_evaluate_model import figures

    frame = pd.read_csv(messy_csv).dropna(subset=["churned"]).reset_index(drop=True)
    _, _, page = validate(frame, tmp_path, target="churned")
    assert [caption for _, caption in figures(page)] == [
        "The target column",
        "Each feature column: a histogram of numbers, or its 10 most frequent values",
    ]
    assert "<h2>Class balance</h2>" in page  # the table stays beside the chart


def test_a_table_with_only_the_target_still_gets_its_report(tmp_path):
    _, _, page = validate(pd.DataFrame({"y": ["a", "b", "a", "b"]}), tmp_path)
    assert "No column to chart." in page and "<h2>Class balance</h2>" in page


def validate_in(folder, frame):
    folder.mkdir()
    return validate(frame, folder)


def chunky_frame(rows=300):
    frame = clean_frame(rows, seed=4)
    frame["row_id"] = range(rows)
    frame["when"] = pd.date_range("2024-01-01", periods=rows, freq="D").astype(str)
    frame.loc[::7, "colour"] = None
    frame["code"] = np.where(np.arange(rows) % 50 == 3, "?", (np.arange(rows) % 9).astype(str))
    frame["y"] = np.where(np.arange(rows) < rows * 0.6, frame["y"], "yes")  # a trend in time
    return frame


def test_chunks_profile_as_one_pass(tmp_path, monkeypatch):
    """7-row chunks give the same page, metrics and warnings as one chunk: counts, gaps,
    distinct values, ranges, histograms, category counts, order (the row index), numbers
    stored as text, the trend over dates."""
    frame = chunky_frame()
    whole = validate_in(tmp_path / "one", frame)
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    chunked = validate_in(tmp_path / "chunked", frame)
    assert chunked == whole
    assert kinds(whole[0]) == ["id_like", "numeric_as_text", "time_trend"]


def test_a_sample_smaller_than_the_table_keeps_the_counts_exact(tmp_path, monkeypatch):
    """Past the sample's rows, only the checks on rows whole (leaks, trends) use the sample:
    rows, gaps, distinct values, ranges, histograms and category counts are still merged from
    every row."""
    frame = chunky_frame()
    whole = validate_in(tmp_path / "one", frame)
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    monkeypatch.setenv("KFP_TABULAR_SAMPLE_ROWS", "40")
    sampled = validate_in(tmp_path / "sampled", frame)
    for name in ("rows", "columns", "missing_cells_share", "minority_class_share"):
        assert sampled[1][name] == whole[1][name]
    columns_table = whole[2][whole[2].index("<h2>Columns</h2>") :]
    assert sampled[2][sampled[2].index("<h2>Columns</h2>") :] == columns_table
    charts = whole[2][whole[2].index("<h2>Charts</h2>") : whole[2].index("<h2>Class balance")]
    assert charts in sampled[2]
    assert "id_like" in kinds(sampled[0]) and "numeric_as_text" in kinds(sampled[0])
