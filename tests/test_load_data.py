"""load_data as a plain function: what it keeps, what it records, how it refuses bad files."""

import csv
import re

import pandas as pd
import pytest

from components import load_data
from tests.conftest import dataset, make_messy_frame


def run_load(source, tmp_path, target="churned", **options):
    cleaned = dataset(tmp_path / "cleaned")
    load_data.python_func(raw=dataset(source), cleaned=cleaned, target_column=target, **options)
    return pd.read_parquet(cleaned.path), cleaned.metadata


def test_keeps_rows_with_missing_features_and_drops_only_missing_targets(messy_csv, tmp_path):
    raw = pd.read_csv(messy_csv)
    frame, meta = run_load(messy_csv, tmp_path)

    missing_target = int(raw["churned"].isna().sum())
    assert missing_target > 0
    assert meta["rows_read"] == len(raw)
    assert meta["rows_kept"] == len(frame) == len(raw) - missing_target
    assert meta["rows_dropped"] == missing_target
    assert meta["drop_reasons"] == {"missing target": missing_target}
    # Rows with a missing feature are kept for the imputer, not thrown away.
    assert (
        frame["tenure_months"].isna().sum()
        == raw.loc[raw["churned"].notna(), "tenure_months"].isna().sum()
    )
    assert frame["city"].isna().any()


def test_strips_label_whitespace_and_records_column_types(messy_csv, tmp_path):
    frame, meta = run_load(messy_csv, tmp_path)

    assert set(frame["churned"]) == {"stay", "churn"}
    assert sum(meta["class_counts"].values()) == len(frame)
    assert set(meta["columns"]) == set(frame.columns)
    assert meta["columns"]["tenure_months"] == "float64"
    assert meta["target_column"] == "churned"


def test_integer_labels_with_gaps_stay_integers(tmp_path):
    path = tmp_path / "ints.csv"
    pd.DataFrame({"x": range(6), "y": [1, 2, None, 1, 2, 1]}).to_csv(path, index=False)
    frame, meta = run_load(path, tmp_path, target="y")
    assert frame["y"].dtype == "int64"
    assert meta["class_counts"] == {"1": 3, "2": 2}


def test_drops_feature_columns_without_any_value(tmp_path):
    path = tmp_path / "empty_col.csv"
    pd.DataFrame({"x": [1, 2, 3, 4], "blank": [None] * 4, "y": ["a", "b", "a", "b"]}).to_csv(
        path, index=False
    )
    frame, meta = run_load(path, tmp_path, target="y")
    assert "blank" not in frame.columns
    assert meta["dropped_columns"] == {"blank": "no values"}


def test_reads_semicolon_latin1_files_with_options(tmp_path):
    path = tmp_path / "european.csv"
    path.write_bytes("ville;classe\nBéziers;a\nSète;b\nNîmes;a\n".encode("latin-1"))
    frame, _ = run_load(path, tmp_path, target="classe", delimiter=";", encoding="latin-1")
    assert list(frame["ville"]) == ["Béziers", "Sète", "Nîmes"]


def test_detects_semicolons_decimal_commas_and_latin1(tmp_path):
    path = tmp_path / "european.csv"
    rows = ["ville;prix;surface;classe"] + [
        f"{town};{price};{area};{label}"
        for town, price, area, label in [
            ("Béziers", "1.234,50", "45,5", "a"),
            ("Sète", "980,00", "30", "b"),
            ("Nîmes", "2.100,25", "60,25", "a"),
            ("Agde", "750,10", "22,75", "b"),
        ]
    ]
    path.write_bytes("\n".join(rows).encode("latin-1"))
    frame, meta = run_load(path, tmp_path, target="classe")
    assert list(frame["ville"]) == ["Béziers", "Sète", "Nîmes", "Agde"]
    assert frame["prix"].tolist() == [1234.5, 980.0, 2100.25, 750.1]
    assert frame["surface"].dtype == "float64" and frame["surface"].iloc[0] == 45.5
    assert meta["reading_options"] == {
        "delimiter": ";",
        "decimal": ",",
        "thousands": ".",
        "encoding": "cp1252",
    }


@pytest.mark.parametrize("separator", ["\t", "|", ",", ";"])
def test_detects_the_delimiter_despite_other_separators_inside_fields(tmp_path, separator):
    path = tmp_path / "table.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=separator)
        writer.writerow(["name", "note", "churned"])
        writer.writerow(["Smith, J.", "a;b|c\td", "yes"])
        writer.writerow(["Doe, A.", "x;y", "no"])
    frame, meta = run_load(path, tmp_path)
    assert meta["reading_options"]["delimiter"] == separator
    assert list(frame["name"]) == ["Smith, J.", "Doe, A."]
    assert frame["note"].iloc[0] == "a;b|c\td"


def test_accepts_utf8_byte_order_mark_and_padded_headers(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx , label \n1,a\n2,b\n".encode())
    frame, _ = run_load(path, tmp_path, target="label")
    assert list(frame.columns) == ["x", "label"]


# Bad input: each fails with one line naming the file, the problem and the fix.


def test_missing_target_column_lists_the_columns(messy_csv, tmp_path):
    with pytest.raises(
        SystemExit, match=r"target column 'label' not found; columns are \['customer_id'"
    ):
        run_load(messy_csv, tmp_path, target="label")


def test_missing_target_with_one_column_hints_at_the_delimiter(tmp_path):
    path = tmp_path / "semicolons.csv"
    path.write_text("a;b;label\n1;2;x\n")
    with pytest.raises(SystemExit, match="is the delimiter ',' right"):
        run_load(path, tmp_path, target="label", delimiter=",")


def test_file_not_found(tmp_path):
    with pytest.raises(SystemExit, match=r"nope\.csv: file not found"):
        run_load(tmp_path / "nope.csv", tmp_path)


def test_a_folder_without_table_files(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="a folder with no table files"):
        run_load(tmp_path / "empty", tmp_path)


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(SystemExit, match="the file is empty"):
        run_load(path, tmp_path)


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b,churned\n")
    with pytest.raises(SystemExit, match="a header but no data rows"):
        run_load(path, tmp_path)


def test_binary_file(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4)
    with pytest.raises(SystemExit, match="binary content, not CSV text"):
        run_load(path, tmp_path)


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "excel-unicode.csv"
    text = "ville\tchurned\nBéziers\ta\nSète\tb\nLyon\ta\n"
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark, as Excel writes it
    frame, meta = run_load(path, tmp_path)
    assert list(frame["ville"]) == ["Béziers", "Sète", "Lyon"]
    assert meta["reading_options"]["encoding"] == "utf-16"


def test_a_forced_encoding_is_honoured_even_without_a_byte_order_mark(tmp_path):
    path = tmp_path / "utf16le.csv"
    path.write_bytes("ville,churned\nBéziers,a\nSète,b\n".encode("utf-16-le"))
    with pytest.raises(SystemExit, match="binary content"):
        run_load(path, tmp_path)  # auto cannot tell it from binary
    frame, _ = run_load(path, tmp_path, encoding="utf-16-le")
    assert list(frame["ville"]) == ["Béziers", "Sète"]


def test_dropped_rows_are_said_in_a_warning_line(messy_csv, tmp_path, capsys):
    _, meta = run_load(messy_csv, tmp_path)
    out = capsys.readouterr().out
    dropped, read = meta["rows_dropped"], meta["rows_read"]
    expected = f"warning: dropped {dropped} of {read} rows ({dropped / read:.1%}) with no value"
    assert expected in out


def test_text_in_another_encoding_than_the_one_forced(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("ville,churned\nBéziers,a\nSète,b\n".encode("latin-1"))
    with pytest.raises(SystemExit, match="not valid utf-8 text.* e.g. latin-1"):
        run_load(path, tmp_path, encoding="utf-8")


def test_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,churned\n1,x\n2,y,extra,fields\n")
    with pytest.raises(SystemExit, match="not a readable CSV with delimiter ','"):
        run_load(path, tmp_path)


def test_duplicate_column_names_as_written(tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("a,b,a,churned\n1,2,3,x\n")
    with pytest.raises(SystemExit, match=r"duplicate column names \['a'\]"):
        run_load(path, tmp_path)


def test_duplicate_column_names_after_stripping(tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("a, a,churned\n1,2,x\n")
    with pytest.raises(SystemExit, match=r"duplicate column names \['a'\]"):
        run_load(path, tmp_path)


def test_target_with_a_single_class(tmp_path):
    path = tmp_path / "one_class.csv"
    pd.DataFrame({"x": [1, 2, 3], "churned": ["stay", "stay", None]}).to_csv(path, index=False)
    with pytest.raises(SystemExit, match=r"single class \('stay', 2 rows\)"):
        run_load(path, tmp_path)


def test_integer_labels_in_the_message_read_plainly(tmp_path):
    path = tmp_path / "one_int_class.csv"
    pd.DataFrame({"x": [1, 2], "churned": [1, 1]}).to_csv(path, index=False)
    with pytest.raises(SystemExit, match=r"single class \('1', 2 rows\)"):
        run_load(path, tmp_path)


def test_a_continuous_target_forced_to_classification_says_how_many_values(tmp_path):
    path = tmp_path / "prices.csv"
    pd.DataFrame({"x": [1, 2, 3], "churned": [1.0, 2.5, 3.0]}).to_csv(path, index=False)
    with pytest.raises(
        SystemExit, match=r"holds non-integer numbers with 3 distinct values.*Use task=regression"
    ):
        run_load(path, tmp_path, task="classification")


def test_thousands_of_whole_number_classes_are_refused_in_one_line(tmp_path):
    path = tmp_path / "ids.csv"
    pd.DataFrame({"x": range(3000), "churned": range(3000)}).to_csv(path, index=False)
    with pytest.raises(SystemExit, match=r"whole numbers with 3000 distinct values: as classes"):
        run_load(path, tmp_path, task="classification")


def test_text_forced_to_regression_is_refused(messy_csv, tmp_path):
    with pytest.raises(SystemExit, match=r"holds text \(e.g. .*\), not numbers: regression needs"):
        run_load(messy_csv, tmp_path, task="regression")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0, 1] * 50, "classification"),  # a 0/1 flag
        ([1, 2, 3, 4, 5] * 20, "classification"),  # 1-5 ratings
        (list(range(100000, 100000 + 300 * 250, 250)), "regression"),  # integer prices
        ([0.5, 1.0, 1.5] * 40, "regression"),  # floats with few values: a fractional part
        ([1.0, 2.0, 3.0] * 40, "classification"),  # whole numbers stored as floats
        (["a", "b"] * 10, "classification"),
    ],
)
def test_the_auto_rule(tmp_path, values, task):
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": range(len(values)), "churned": values}).to_csv(path, index=False)
    cleaned = dataset(tmp_path / "cleaned")
    result = load_data.python_func(raw=dataset(path), cleaned=cleaned, target_column="churned")
    assert result.task == cleaned.metadata["task"] == task
    summary = "target_summary" if task == "regression" else "class_counts"
    assert summary in cleaned.metadata


def test_target_without_values(tmp_path):
    path = tmp_path / "no_target.csv"
    pd.DataFrame({"x": [1, 2], "churned": [None, " "]}).to_csv(path, index=False)
    with pytest.raises(SystemExit, match="target column 'churned' has no values"):
        run_load(path, tmp_path)


def test_messy_frame_fixture_is_messy():
    frame = make_messy_frame()
    assert frame["churned"].isna().any() and (frame["monthly_fee"] == "?").any()
    assert frame["customer_id"].is_unique


def test_a_target_differing_only_in_case_gets_a_suggestion(iris_csv, tmp_path):
    with pytest.raises(SystemExit, match=r"Did you mean 'species'\? \(The names differ"):
        run_load(iris_csv, tmp_path, target="Species ")


def test_chunks_read_as_the_whole_table(tmp_path, monkeypatch):
    """Types merged across chunks are those of the whole column: whole numbers with a gap in a
    later chunk become floats, numbers with text in a later chunk text, booleans with a gap
    objects; a column empty where the target is kept is dropped. 7-row chunks, 60 rows."""
    rows = 60
    frame = make_messy_frame(rows, seed=3)
    frame["count"] = [str(i) for i in range(rows)]
    frame.loc[50, "count"] = ""  # a gap in the last chunk only
    frame["code"] = [str(i % 7) for i in range(rows)]
    frame.loc[55, "code"] = "x7"  # text in the last chunk only
    frame["flag"] = ["True" if i % 3 else "False" for i in range(rows)]
    frame.loc[40, "flag"] = ""
    frame["sparse"] = ""
    frame.loc[frame["churned"].isna().to_numpy().nonzero()[0][:1], "sparse"] = "only here"
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)

    whole, whole_meta = run_load(path, tmp_path / "whole")
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    chunked, chunked_meta = run_load(path, tmp_path / "chunked")

    pd.testing.assert_frame_equal(chunked, whole)
    assert chunked_meta == whole_meta
    assert whole_meta["columns"]["count"] == "float64"
    assert whole_meta["columns"]["flag"] == "object"
    assert {"x7", "0"} <= set(chunked["code"])
    assert "sparse" not in chunked.columns and whole_meta["dropped_columns"] == {
        "sparse": "no values"
    }


def test_a_small_memory_limit_reads_in_smaller_chunks_with_the_same_result(
    tmp_path, monkeypatch, capsys
):
    """Where the declared limit holds fewer rows than a chunk, the table is read again in
    chunks that fit, and the output is the one a large limit gives."""
    import components.memory

    rows = 5_000
    frame = pd.DataFrame({"x": range(rows), "city": [f"c{i % 7}" for i in range(rows)]})
    frame.assign(y=[i % 2 for i in range(rows)]).to_csv(tmp_path / "t.csv", index=False)
    whole, whole_meta = run_load(tmp_path / "t.csv", tmp_path / "a", target="y")
    row_bytes = whole.memory_usage(deep=True).sum() / rows  # about what load_data measures
    monkeypatch.setattr(components.memory, "resident_bytes", lambda: 0)
    monkeypatch.setattr(components.memory, "cgroup_memory_limit", lambda root="": None)
    limit = str(int(8 * row_bytes * 2_000))  # about 2,000 rows of 8 copies
    chunked, meta = run_load(
        tmp_path / "t.csv", tmp_path / "b", target="y", declared_memory_limit=limit
    )
    shrunk = r"load_data: chunks of 2,0\d\d rows instead of 200,000"
    assert re.search(shrunk, capsys.readouterr().out)
    pd.testing.assert_frame_equal(chunked, whole)
    assert meta == whole_meta


def test_a_memory_limit_that_cannot_hold_a_small_chunk_stops_in_one_line(messy_csv, tmp_path):
    """Not even 1,000 rows fit: one line names the step, the limit, the need and the
    pipeline parameter to raise, instead of an OOMKilled step."""
    with pytest.raises(SystemExit) as stop:
        run_load(messy_csv, tmp_path, declared_memory_limit="1Mi")
    message = str(stop.value)
    assert "\n" not in message and message.startswith("kfp-tabular error: load_data: a chunk of")
    assert "1 MiB (light_memory_limit=1Mi). Raise the pipeline parameter light_memory_limit" in (
        message
    )
