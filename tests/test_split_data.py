"""split_data as a plain function: stratified, seeded, complete; refuses splits that cannot work."""

import pandas as pd
import pytest

from components import split_data
from tests.conftest import dataset


def write_table(tmp_path, labels):
    path = tmp_path / "table"
    pd.DataFrame({"x": range(len(labels)), "y": labels}).to_parquet(path)
    return path


def run_split(path, tmp_path, **options):
    train, test = dataset(tmp_path / "train"), dataset(tmp_path / "test")
    split_data.python_func(data=dataset(path), train=train, test=test, target_column="y", **options)
    return pd.read_parquet(train.path), pd.read_parquet(test.path), train.metadata, test.metadata


def test_split_is_stratified_disjoint_and_complete(tmp_path):
    path = write_table(tmp_path, ["a"] * 80 + ["b"] * 20)
    train, test, train_meta, test_meta = run_split(path, tmp_path, test_size=0.25)

    assert len(test) == 25 and len(train) == 75
    assert sorted(pd.concat([train, test])["x"]) == list(range(100))
    assert test["y"].value_counts().to_dict() == {"a": 20, "b": 5}
    assert train_meta["rows"] == 75 and test_meta["class_counts"] == {"a": 20, "b": 5}


def test_same_seed_same_split_other_seed_other_split(tmp_path):
    path = write_table(tmp_path, ["a", "b"] * 50)
    first = run_split(path, tmp_path / "1", random_state=7)[1]["x"].tolist()
    again = run_split(path, tmp_path / "2", random_state=7)[1]["x"].tolist()
    other = run_split(path, tmp_path / "3", random_state=8)[1]["x"].tolist()
    assert first == again
    assert first != other


def test_class_with_a_single_row(tmp_path):
    path = write_table(tmp_path, ["a"] * 10 + ["b"] * 10 + ["rare"])
    with pytest.raises(SystemExit, match=r"class\(es\) \['rare'\] of 'y' have a single row"):
        run_split(path, tmp_path)


def test_many_single_row_classes_are_listed_briefly(tmp_path):
    path = write_table(tmp_path, ["a", "a"] + [f"v{i}" for i in range(30)])
    with pytest.raises(SystemExit, match=r"\['v0', .*'v9', '…'\] of 'y'") as refused:
        run_split(path, tmp_path)
    assert "v10" not in str(refused.value)


def test_fewer_rows_than_the_split_needs(tmp_path):
    path = write_table(tmp_path, ["a", "a", "b", "b", "c", "c"])
    with pytest.raises(SystemExit, match=r"6 rows with 3 classes is too few for test_size=0.2"):
        run_split(path, tmp_path)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 1.5])
def test_test_size_out_of_range(tmp_path, test_size):
    path = write_table(tmp_path, ["a", "b"] * 10)
    with pytest.raises(SystemExit, match="test_size must be between 0 and 1"):
        run_split(path, tmp_path, test_size=test_size)


def test_column_types_decided_at_load_survive_the_split(tmp_path):
    """With CSV, a split without the '?' rows would read 'fee' back as numbers."""
    from components import load_data

    csv = tmp_path / "fees.csv"
    fees = ["10", "12", "14", "16"] * 10
    fees[0] = fees[20] = "?"
    pd.DataFrame({"fee": fees, "code": ["007"] * 40, "y": ["a", "b"] * 20}).to_csv(csv, index=False)
    cleaned = dataset(tmp_path / "cleaned")
    load_data.python_func(raw=dataset(csv), cleaned=cleaned, target_column="y")

    train, test, _, _ = run_split(cleaned.path, tmp_path, test_size=0.1, random_state=0)
    assert "?" in set(train["fee"]) and "?" not in set(test["fee"])  # the case CSV gets wrong
    for part in (train, test):
        assert pd.api.types.is_string_dtype(part["fee"])
        assert set(part["code"]) == {7}  # typed once, by the CSV reader in load_data


def test_every_class_keeps_its_share_to_the_row_and_rows_keep_their_order(tmp_path):
    counts = {"a": 57, "b": 31, "c": 12}
    labels = [label for label, count in counts.items() for _ in range(count)]
    path = write_table(tmp_path, labels)
    train, test, _, _ = run_split(path, tmp_path, test_size=0.3, random_state=5)
    assert len(test) == 30  # ceil(0.3 * 100)
    for label, count in counts.items():
        assert abs((test["y"] == label).sum() - count * 0.3) < 1
    assert train["x"].is_monotonic_increasing and test["x"].is_monotonic_increasing


def test_too_few_training_rows_are_warned_about(tmp_path, capsys):
    rows = pd.DataFrame({"x": range(40), "z": range(40), "y": ["a", "b"] * 20})
    table = tmp_path / "data"
    rows.to_parquet(table)
    train, test = dataset(tmp_path / "train"), dataset(tmp_path / "test")
    split_data.python_func(
        data=dataset(table), train=train, test=test, target_column="y", test_size=0.8
    )
    assert "warning: only 8 training rows for 2 classes and 2 feature columns" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"time_column": "when"}, {"split_column": "side"}, {"task": "regression"}],
    ids=["stratified", "chronological", "predefined", "regression"],
)
def test_chunks_split_as_one_pass(tmp_path, monkeypatch, options):
    """7-row chunks give the rows, order and metadata of one chunk: the stratified draw, the
    out-of-core sort by time (dates out of file order, ties kept in file order), the
    predefined sides."""
    import numpy as np

    rng = np.random.default_rng(5)
    rows = 90
    frame = pd.DataFrame(
        {
            "x": range(rows),
            "when": rng.choice(pd.date_range("2024-01-01", periods=30).astype(str), rows),
            "side": rng.choice(["train", "Test", "validation"], rows),
            "y": rng.integers(0, 40, rows)
            if options.get("task")
            else rng.choice(list("abc"), rows),
        }
    )
    path = tmp_path / "table"
    frame.to_parquet(path)
    one = run_split(path, tmp_path / "one", **options)
    monkeypatch.setenv("KFP_TABULAR_CHUNK_ROWS", "7")
    chunked = run_split(path, tmp_path / "chunked", **options)
    for whole, parts in zip(one[:2], chunked[:2], strict=True):
        pd.testing.assert_frame_equal(parts, whole)
    assert chunked[2:] == one[2:]
    if "time_column" in options:
        assert (
            one[0]["when"].is_monotonic_increasing and one[1]["when"].min() >= one[0]["when"].max()
        )


def test_a_memory_limit_that_cannot_hold_a_small_chunk_stops_in_one_line(tmp_path):
    path = write_table(tmp_path, ["a", "b"] * 50)
    with pytest.raises(SystemExit) as stop:
        run_split(path, tmp_path, declared_memory_limit="1Mi")
    message = str(stop.value)
    assert "\n" not in message and message.startswith("kfp-tabular error: split_data: a chunk")
    assert "(light_memory_limit=1Mi). Raise the pipeline parameter light_memory_limit" in message
