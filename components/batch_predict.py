"""Component: score new raw rows with a trained model directory, in chunks."""

from kfp.dsl import Dataset, Input, Model, Output

from components.runtime import tabular_component
from components.scoring import (
    describe_scoring,
    merge_counts,
    open_writer,
    prepare_rows,
    score_rows,
    scoring_counts,
)
from components.shared import bounded, exit_quickly, fail, idle_threads_sleep, load_model_dir
from components.storage import local_path
from components.tables import iter_table, part_schema, table_parts
from components.versions import model_path


@tabular_component
def batch_predict(
    model: Input[Model],
    data: Input[Dataset],
    predictions: Output[Dataset],
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
    output_format: str = "csv",
    chunk_rows: int = 100_000,
    shard: str = "",
):
    """Predicts a class and per-class probabilities, or a number, for every row of a table.

    The table is a CSV or Parquet file (told apart by its content), or a folder
    or object-store prefix of such part files with the same columns. It is read
    and written in chunks of ``chunk_rows`` rows, so memory is set by the
    chunk, not by the file; the counts reported add up over the chunks, so
    they do not depend on the chunk size.

    The rows are checked against the schema recorded at training: a missing
    feature column, or text in a numeric one, stops the step with a clear
    error. Columns may come in any order; columns the model does not use (the
    target too, if present) are carried through untouched and reported.
    Missing values and categories unseen in training are handled by the
    model's preprocessing, and counted. The model directory is refused when
    ``model.joblib`` does not match the sha256 in its ``metadata.json`` or was
    written by another scikit-learn version.

    Args:
        model: Model directory from ``train_model``.
        data: Table of rows to score (CSV or Parquet, a file or a folder of
            part files), with the model's feature columns.
        delimiter: Field separator of CSV input, or ``auto``.
        decimal: Decimal mark of CSV input, ``.`` or ``,``, or ``auto``.
        encoding: Text encoding of CSV input, or ``auto``.
        output_format: ``csv`` or ``parquet``.
        chunk_rows: Rows read, scored and written at a time.
        shard: One shard of a sharded run, from ``plan_shards`` (JSON); empty
            scores the whole table.

    Returns:
        predictions: The input rows (CSV input: its fields as written) plus
            ``prediction`` and one ``proba_<class>`` column per class, or for
            regression ``prediction`` (the forest's mean) with ``tree_p10`` and
            ``tree_p90``, the 10th and 90th percentiles of its trees'
            predictions (the model's own spread, not a calibrated interval);
            CSV (comma-separated, UTF-8) or Parquet. For a shard, a folder of
            ``part.csv`` (or ``part.parquet``) and ``counts.json``, which
            ``gather_predictions`` merges. Metadata: ``rows``, ``task``,
            ``classes`` and ``prediction_counts`` (or ``prediction_summary``),
            ``ignored_columns``, ``missing_values``, ``unseen_categories`` and
            ``unparseable_dates`` (counts per column), ``replaced_columns``,
            ``warnings``, ``reading_options``, ``format``, ``model`` (the model
            folder scored with: the version, for an export location); lists and
            maps cut to their first 20 entries.
    """
    idle_threads_sleep()  # before scikit-learn loads OpenMP
    import json
    import os

    import pyarrow as pa

    if output_format not in ("csv", "parquet"):
        fail(f"output_format {output_format!r} is not csv or parquet. Set one of them.")
    model_dir, model_uri = model_path(model)
    estimator, meta = load_model_dir(model_dir, model_uri)
    features, task = meta["features"], meta.get("task", "classification")
    location = local_path(data)
    plan = json.loads(shard) if shard else {}
    if plan.get("parts"):
        parts = [os.path.join(location, name) if name else location for name in plan["parts"]]
    else:
        parts = table_parts(location, data.uri)
    columns = None
    if plan:  # every shard orders its columns as the table's first part does
        first = table_parts(location, data.uri)[0]
        columns, _ = part_schema(first, data.uri, delimiter, decimal, encoding)
    target = predictions.path
    if plan:
        os.makedirs(predictions.path, exist_ok=True)
        target = os.path.join(predictions.path, f"part.{output_format}")
    # Written beside the artifact, then renamed: a failed step never leaves a
    # partial predictions file where the next step would read it.
    partial = target + ".partial"
    writer, schema, counts, reading, replaced = None, None, {}, {}, []
    chunks = iter_table(
        parts, data.uri, chunk_rows, plan.get("start", 0), plan.get("stop"), None, delimiter,
        decimal, encoding, location, plan.get("seek"),
    )  # fmt: skip
    try:
        for part, names, options, first_row, chunk in chunks:
            named = data.uri if part == location else data.uri + part[len(location) :]
            columns = columns or names
            if set(names) != set(columns):
                fail(
                    f"{named}: columns differ from the first part's {bounded(columns)}. Give "
                    "every part file the same columns."
                )
            chunk, reading = chunk.select(columns), options
            inputs = prepare_rows(chunk, features, named, options, first_row)
            added = score_rows(estimator, task, inputs, meta.get("threshold"))
            replaced = [name for name in added if name in columns]
            output = chunk.drop_columns(replaced)
            for name, values in added.items():
                output = output.append_column(name, pa.array(values))
            if writer is None:
                schema = output.schema
                writer = open_writer(partial, output_format, schema)
            writer.write_table(output.cast(schema))
            counts = merge_counts(
                counts, scoring_counts(inputs, features, added["prediction"], task)
            )
        if writer is None and not plan:
            fail(f"{data.uri}: a header but no data rows. Provide a table with data rows.")
        if writer is not None:
            writer.close()
            writer = None
            os.replace(partial, target)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(partial):
            os.remove(partial)

    used = [feature["name"] for feature in features]
    summary = {
        "task": task,
        "classes": [str(label) for label in getattr(estimator, "classes_", [])],
        "ignored_columns": [name for name in columns or [] if name not in used],
        "replaced_columns": replaced,
        "reading_options": reading,
    }
    if plan:
        # The detail for gather_predictions; the metadata stays small as many shards meet there.
        shard_counts = {"shard": plan.get("index", 0), "counts": counts, "features": used}
        shard_counts.update({"model": model_uri, "model_sha256": meta.get("sha256")})
        with open(os.path.join(predictions.path, "counts.json"), "w", encoding="utf-8") as handle:
            json.dump({**shard_counts, **summary}, handle)
        predictions.metadata.update({"format": output_format, "rows": counts.get("rows", 0)})
        print(f"Scored {counts.get('rows', 0)} rows of shard {plan.get('index', 0)} of {data.uri}.")
        exit_quickly()
        return
    metadata, warnings = describe_scoring(counts, used, summary, output_format)
    predictions.metadata.update({**metadata, "model": model_uri})
    print(
        f"Scored {counts['rows']} rows from {data.uri}; predictions written to {predictions.uri}."
    )
    for warning in warnings:
        print(f"warning: {warning}")
    exit_quickly()
