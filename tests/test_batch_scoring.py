"""Batch scoring at any size: chunks, Parquet, folders of parts, and shards give one result."""

import json
import pathlib

import pandas as pd
import pytest
from kfp.dsl import HTML, Metrics

from components import batch_predict, detect_drift, gather_predictions, plan_shards
from pipelines import batch_prediction_pipeline
from tests.conftest import dataset, make_messy_frame

CHUNK = 37  # rows: the 250-row table spans seven chunks


def rows_to_score(tmp_path, rows=250):
    """Messy rows to score, with categories unseen in training and gaps."""
    frame = make_messy_frame(rows=rows, seed=3).drop(columns="churned")
    frame.loc[::9, "plan"] = "enterprise"
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def score(model, data, out, **options):
    predictions = dataset(out)
    batch_predict.python_func(model=model, data=dataset(data), predictions=predictions, **options)
    return predictions


def drift(model, data, out, **options):
    report = HTML(name="report", uri=str(out / "drift.html"), metadata={})
    metrics = Metrics(name="metrics", uri=str(out / "metrics"), metadata={})
    detect_drift.python_func(
        model=model, data=dataset(data), report=report, metrics=metrics, **options
    )
    return metrics.metadata, pathlib.Path(report.path).read_text()


@pytest.fixture
def model(messy_model):
    return messy_model[0]


def test_chunked_scoring_and_drift_equal_one_pass(model, tmp_path):
    data = rows_to_score(tmp_path)
    whole = score(model, data, tmp_path / "whole.csv")
    chunked = score(model, data, tmp_path / "chunked.csv", chunk_rows=CHUNK)
    assert pathlib.Path(chunked.path).read_bytes() == pathlib.Path(whole.path).read_bytes()
    assert chunked.metadata == whole.metadata
    assert whole.metadata["rows"] == 250 and whole.metadata["unseen_categories"]["plan"] == 28
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    assert drift(model, data, tmp_path / "a", chunk_rows=CHUNK) == drift(
        model, data, tmp_path / "b"
    )


def test_parquet_in_and_out_give_the_csv_predictions(model, tmp_path):
    data = rows_to_score(tmp_path)
    parquet = tmp_path / "rows.data"  # no .parquet in the name: told by its content
    pd.read_csv(data).to_parquet(parquet, row_group_size=50)
    from_csv = pd.read_csv(score(model, data, tmp_path / "p.csv").path)
    scored = score(
        model, parquet, tmp_path / "p.parquet", chunk_rows=CHUNK, output_format="parquet"
    )
    from_parquet = pd.read_parquet(scored.path)
    assert scored.metadata["format"] == "parquet" and scored.metadata["rows"] == 250
    pd.testing.assert_frame_equal(from_parquet, from_csv, check_dtype=False)


def test_a_folder_of_parts_scores_as_one_table(model, tmp_path):
    data = rows_to_score(tmp_path)
    frame = pd.read_csv(data)
    folder = tmp_path / "day=2026-12-01"
    folder.mkdir()
    frame[:100].to_csv(folder / "part-0.csv", index=False)
    frame[100:].to_parquet(folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    whole = pd.read_csv(score(model, data, tmp_path / "whole.csv").path)
    parts = score(model, folder, tmp_path / "parts.csv", chunk_rows=CHUNK)
    pd.testing.assert_frame_equal(pd.read_csv(parts.path), whole)


def shard_then_gather(model, data, tmp_path, shards):
    planned = plan_shards.python_func(data=dataset(data), shards=shards)
    parts = [
        score(model, data, tmp_path / f"shard-{shards}-{k}", chunk_rows=CHUNK, shard=shard)
        for k, shard in enumerate(planned)
    ]
    gathered = dataset(tmp_path / f"gathered-{shards}.csv")
    gather_predictions.python_func(parts=parts, predictions=gathered)
    return planned, gathered


@pytest.mark.parametrize("shards", [1, 2, 300])
def test_shards_give_the_one_pass_predictions_and_figures(model, tmp_path, shards):
    data = rows_to_score(tmp_path)
    whole = score(model, data, tmp_path / "whole.csv")
    planned, gathered = shard_then_gather(model, data, tmp_path, shards)
    assert len(planned) == min(shards, 250)  # never more shards than rows
    assert pathlib.Path(gathered.path).read_bytes() == pathlib.Path(whole.path).read_bytes()
    assert {**gathered.metadata, "shards": 0} == {**whole.metadata, "shards": 0}


def test_shards_scored_with_different_models_are_refused(model, tmp_path):
    """A version exported while the shards ran: each would resolve the export location alone."""
    data = rows_to_score(tmp_path)
    planned = plan_shards.python_func(data=dataset(data), shards=2)
    parts = [
        score(model, data, tmp_path / f"shard-{k}", chunk_rows=CHUNK, shard=shard)
        for k, shard in enumerate(planned)
    ]
    counts = pathlib.Path(parts[1].path) / "counts.json"
    found = json.loads(counts.read_text())
    counts.write_text(json.dumps({**found, "model_sha256": "another", "model": "s3://m/v2/"}))
    gathered = dataset(tmp_path / "gathered.csv")
    with pytest.raises(SystemExit, match="the shards scored with different models .*s3://m/v2/"):
        gather_predictions.python_func(parts=parts, predictions=gathered)
    assert not pathlib.Path(gathered.path).exists()


def test_a_folder_plans_groups_of_part_files(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    for k in range(5):
        make_messy_frame(rows=20, seed=k).to_csv(folder / f"part-{k}.csv", index=False)
    planned = [
        json.loads(shard) for shard in plan_shards.python_func(data=dataset(folder), shards=2)
    ]
    assert [len(shard["parts"]) for shard in planned] in ([3, 2], [2, 3])
    assert sum((shard["parts"] for shard in planned), []) == [f"part-{k}.csv" for k in range(5)]


def test_a_bad_part_file_is_named_in_one_line_and_nothing_is_left(model, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    make_messy_frame(rows=80, seed=1).to_csv(folder / "part-0.csv", index=False)
    (folder / "part-1.parquet").write_bytes(b"PAR1 not really parquet")
    out = tmp_path / "out" / "predictions.csv"
    with pytest.raises(SystemExit) as stopped:
        score(model, folder, out, chunk_rows=CHUNK)
    message = str(stopped.value)
    assert "part-1.parquet: not a readable Parquet" in message and "\n" not in message
    assert not list(out.parent.iterdir())  # no predictions, no .partial


def test_two_shards_on_the_local_runner_equal_one(local_runner, model, tmp_path):
    data = rows_to_score(tmp_path, rows=60)
    runs = [
        batch_prediction_pipeline(model_uri=model.path, data_uri=str(data), shards=shards).outputs[
            "predictions"
        ]
        for shards in (1, 2)
    ]
    one, two = (pathlib.Path(run.path).read_bytes() for run in runs)
    assert one == two and one.count(b"\n") == 61
    assert runs[1].metadata["shards"] == 2
    assert {**runs[0].metadata, "shards": 0} == {**runs[1].metadata, "shards": 0}


@pytest.mark.parametrize("size", [5, 16, 64, 1 << 20])
def test_csv_blocks_cut_only_between_records(tmp_path, size):
    """Blocks of any size parse alone, quoted line ends and quotes inside fields included."""
    import io

    from components.tables import csv_blocks

    frame = pd.DataFrame(
        {"note": ["two\nlines", 'say "hi"', "plain", 'a,b\n"c"', ""], "n": [1, 2, 3, 4, 5]}
    )
    text = frame.to_csv(index=False).encode()
    blocks = list(csv_blocks(io.BytesIO(text), size))
    assert b"".join(blocks) == text[text.index(b"\n") + 1 :]  # every record, the header off
    parsed = [pd.read_csv(io.BytesIO(block), names=["note", "n"]) for block in blocks]
    assert pd.concat(parsed, ignore_index=True)["n"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("quoted", [False, True])
def test_a_shard_that_seeks_to_a_block_reads_the_rows_of_one_that_reads_through(tmp_path, quoted):
    """Row marks count rows by line ends (or parse, with quotes); a seek to one skips alike."""
    from components.tables import csv_row_marks, iter_table, part_schema

    frame = pd.DataFrame({"n": range(300), "x": [f"{i / 7:.4f}" for i in range(300)]})
    if quoted:
        frame["note"] = ['say "hi"\nthere' if i % 11 == 0 else "plain" for i in range(300)]
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    names, options = part_schema(str(path), "rows.csv")
    rows, marks = csv_row_marks(str(path), names, options, size=512)
    assert rows == 300 and len(marks) > 5 and marks[0][1] == 0
    with open(path, "rb") as handle:  # each mark is where a row's record starts
        for at, row in marks:
            handle.seek(at)
            assert handle.readline().startswith(f"{row},".encode())

    def read(**seek):
        chunks = iter_table([str(path)], "rows.csv", 40, 170, 260, **seek)
        return [(first, chunk.column("n").to_pylist()) for *_, first, chunk in chunks]

    near = [mark for mark in marks if mark[1] <= 170][-1]
    assert near[1] > 0
    assert read(seek=near) == read() and read()[0] == (170, [str(n) for n in range(170, 210)])
