"""Component: read a raw CSV into a clean, typed table."""

from typing import NamedTuple

from kfp.dsl import Dataset, Input, Output

from components.memory import chunk_rows_within
from components.runtime import TABLE_PINS, tabular_component
from components.shared import bounded, chunk_rows, close_column, exit_quickly, fail
from components.storage import local_path
from components.tables import chunk_kind, iter_frames, merged_dtype
from components.tasks import decide_task, target_summary


@tabular_component(packages=TABLE_PINS)
def load_data(
    raw: Input[Dataset],
    cleaned: Output[Dataset],
    target_column: str,
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
    task: str = "auto",
    declared_memory_limit: str = "",
) -> NamedTuple("Outputs", task=str):
    """Reads a raw table, keeps every row that has a target value, and decides the task.

    The table is a CSV or Parquet file (told apart by its content), or a folder
    of part files with the same columns, read in chunks (200,000 rows, or the
    environment variable ``KFP_TABULAR_CHUNK_ROWS``) and written chunk by chunk,
    so memory is set by the chunk and the target column, not by the table.
    Each column gets the type pandas gives it read whole.

    Rows whose target is missing are dropped and counted. Rows with missing
    feature values are kept: the model imputes them. Feature columns with no
    value at all are dropped. Text targets are stripped of surrounding spaces.
    The task, unless given, is decided from the target: text, booleans, and
    whole numbers with at most 20 distinct values (or distinct on at most 5% of
    the rows) are classification; numbers with a fractional part, and whole
    numbers with more distinct values, are regression. Classification targets
    that are whole numbers become integers; regression targets become floats.

    Args:
        raw: The CSV or Parquet table to read (a file, or a folder of part files with
            the same columns), usually imported from a data URI with ``dsl.importer``.
        target_column: Name of the column holding what to predict.
        delimiter: Field separator of the CSV, or ``auto`` to detect it among
            comma, semicolon, tab and pipe.
        decimal: Decimal mark, ``.`` or ``,``, or ``auto`` to detect it (with a
            decimal comma, ``.`` is read as the thousands separator).
        encoding: Text encoding of the CSV, or ``auto``: UTF-8 (with or without a
            byte-order mark), else Windows-1252, else Latin-1.
        task: ``auto``, ``classification`` or ``regression``.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``light_memory_limit``); a lower cgroup limit wins. Where the first
            chunk shows that a chunk does not fit, the table is read again in
            smaller ones; where not even 1,000 rows fit, the step stops and says so.

    Returns:
        cleaned: Parquet table of the kept rows, target included, column types
            preserved. Metadata: ``rows_read``, ``rows_kept``, ``rows_dropped``,
            ``drop_reasons``, ``dropped_columns``, ``target_column``, ``columns``
            (name to pandas type), ``column_count``, ``task`` and ``task_reason``,
            ``class_counts`` (most frequent first) and ``class_count`` or, for
            regression, ``target_summary``, ``reading_options`` (the delimiter,
            decimal mark and encoding used) and ``format``. Lists and maps are
            cut to their first 20 entries.
        task: The task decided: ``classification`` or ``regression``.
    """
    import os
    import pickle
    import shutil
    import tempfile
    from collections import namedtuple

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, location, rows = raw.uri, local_path(raw), chunk_rows()
    as_text = set()  # columns read again as text: their chunks disagreed (see merged_dtype)
    while True:
        stage = tempfile.mkdtemp(prefix="load_data-")
        columns, kinds, dtypes, gaps, has_value = None, {}, {}, {}, {}
        arrow_types, staged, kept_masks, targets, rows_read = {}, [], [], [], 0
        retry = False
        for index, (chunk, reading) in enumerate(
            iter_frames(location, source, rows, delimiter, decimal, encoding, as_text)
        ):
            if columns is None:
                columns = list(chunk.columns)
                # 8 copies of a chunk: what validate_data holds typing one as training
                # will (text as Python strings), the most of the table steps.
                size = int(chunk.memory_usage(deep=True).sum())
                fit = chunk_rows_within(
                    "load_data", "light_memory_limit", declared_memory_limit,
                    8 * size / max(len(chunk), 1), rows,
                )  # fmt: skip
                if fit < len(chunk):  # read again, in chunks that fit
                    rows, retry = fit, True
                    break
                if target_column not in columns:
                    shutil.rmtree(stage, ignore_errors=True)
                    hint = ""
                    near = close_column(target_column, columns)
                    if near:
                        hint = f" Did you mean {near!r}? (The names differ in case or spaces.)"
                    if len(columns) == 1 and "delimiter" in reading:
                        hint = (
                            f" Only one column was found: is the delimiter "
                            f"{reading['delimiter']!r} right?"
                        )
                    fail(
                        f"{source}: target column {target_column!r} not found; columns are "
                        f"{bounded(columns)}. Set target_column to one of them.{hint}"
                    )
            target = chunk[target_column]
            if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
                target = target.astype("str").str.strip().replace("", None)
            kept = target.notna().to_numpy()
            rows_read += len(chunk)
            if pd.api.types.is_integer_dtype(target):  # held whole: its least integer type
                target = pd.to_numeric(target, downcast="integer")
            targets.append(target[kept])
            kept_masks.append(kept)
            for name in columns:
                values = chunk[name]
                kind = chunk_kind(values)
                kinds.setdefault(name, set()).add(kind)
                dtypes.setdefault(name, {}).setdefault(kind, values.dtype)
                gaps[name] = gaps.get(name, False) or bool(values.isna().any())
                if not has_value.get(name) and values[kept].notna().any():
                    has_value[name] = True
                    if values.dtype.kind == "O":  # the Parquet type of a column of objects
                        arrow_types[name] = (
                            pa.Schema.from_pandas(
                                chunk.loc[kept, [name]].dropna(), preserve_index=False
                            )
                            .field(name)
                            .type
                        )
            # Staged as the chunk was read (pickle keeps every dtype as it is), typed at the end.
            staged.append(os.path.join(stage, f"{index:06d}.pickle"))
            with open(staged[-1], "wb") as handle:
                pickle.dump(chunk, handle, protocol=pickle.HIGHEST_PROTOCOL)
            del chunk, target, values
        if retry:
            shutil.rmtree(stage, ignore_errors=True)
            continue
        final = {name: merged_dtype(kinds[name], dtypes[name], gaps[name]) for name in columns}
        disagree = {name for name, dtype in final.items() if dtype is None}
        if not disagree or disagree <= as_text or reading.get("format") == "parquet":
            final = {name: dtype or "object" for name, dtype in final.items()}
            break
        shutil.rmtree(stage, ignore_errors=True)
        as_text |= disagree

    target = pd.concat(targets, ignore_index=True) if len(targets) > 1 else targets[0]
    target = target.reset_index(drop=True)
    del targets
    if target.empty:
        shutil.rmtree(stage, ignore_errors=True)
        fail(
            f"{source}: target column {target_column!r} has no values. Fill it in or pick another."
        )
    if final[target_column] == "float64" and target.dtype != "float64":
        target = target.astype("float64")  # as the whole column would have been read
    where = f"{source}: target column {target_column!r}"
    task, reason = decide_task(target, task, where)
    written = target.dtype  # of the table's target column
    if pd.api.types.is_integer_dtype(target):
        written = final[target_column]  # integers were held in their least type
    if task == "classification":
        if pd.api.types.is_float_dtype(target):
            target = target.astype("int64")  # whole numbers: decide_task checked
            written = target.dtype
        classes = target.value_counts()
        if len(classes) < 2:
            shutil.rmtree(stage, ignore_errors=True)
            fail(
                f"{where} has a single class ('{classes.index[0]}', {classes.iloc[0]} rows). "
                "A classifier needs at least two."
            )
    else:
        target = target.astype("float64")
        written = target.dtype
        if target.nunique() < 2:
            shutil.rmtree(stage, ignore_errors=True)
            fail(f"{where} has a single value ({target.iloc[0]:g}): there is nothing to predict.")
    print(f"Task: {task}, for {reason}; set task to override.")

    empty_columns = [name for name in columns if name != target_column and not has_value.get(name)]
    # Each staged chunk typed as the whole table, its kept rows written as a row group.
    writer, schema, done, types = None, None, 0, {}
    try:
        for path, kept in zip(staged, kept_masks, strict=True):
            with open(path, "rb") as handle:
                chunk = pickle.load(handle)
            os.remove(path)
            chunk = chunk.drop(columns=empty_columns)
            for name in chunk.columns:
                if name != target_column and chunk[name].dtype != final[name]:
                    chunk[name] = chunk[name].astype(final[name])
            if not kept.all():
                chunk = chunk[kept].reset_index(drop=True)
            count = int(kept.sum())
            values = target.iloc[done : done + count].set_axis(chunk.index)
            chunk[target_column] = values.astype(written) if values.dtype != written else values
            done += count
            if writer is None:
                types = {name: str(dtype) for name, dtype in chunk.dtypes.items()}
                schema = pa.Schema.from_pandas(chunk, preserve_index=False)
                for name, kind in arrow_types.items():
                    at = schema.get_field_index(name)
                    if at >= 0 and pa.types.is_null(schema.field(at).type):
                        schema = schema.set(at, schema.field(at).with_type(kind))
                writer = pq.ParquetWriter(cleaned.path, schema)
            writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
            del chunk
    finally:
        if writer is not None:
            writer.close()
        shutil.rmtree(stage, ignore_errors=True)

    rows_kept = len(target)
    rows_dropped = rows_read - rows_kept
    kept_columns = [name for name in columns if name not in empty_columns]
    cleaned.metadata.update(
        bounded(
            {
                "format": "parquet",
                "reading_options": reading,
                "target_column": target_column,
                "rows_read": rows_read,
                "rows_kept": rows_kept,
                "rows_dropped": rows_dropped,
                "drop_reasons": {"missing target": rows_dropped} if rows_dropped else {},
                "dropped_columns": {name: "no values" for name in empty_columns},
                "columns": types,
                "column_count": len(kept_columns),
                "task": task,
                "task_reason": reason,
                **target_summary(target, task),
            }
        )
    )
    print(
        f"Read {rows_read} rows from {source}; kept {rows_kept}, dropped {rows_dropped} "
        f"with no {target_column!r}; {len(kept_columns) - 1} feature columns."
    )
    # "warning: " lines reach the command line's summary.
    if rows_dropped:
        print(
            f"warning: dropped {rows_dropped} of {rows_read} rows ({rows_dropped / rows_read:.1%}) "
            f"with no value in target column {target_column!r}"
        )
    if empty_columns:
        print(f"warning: dropped columns with no values: {bounded(empty_columns)}")
    exit_quickly()
    return namedtuple("Outputs", ["task"])(task)
