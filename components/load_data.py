"""Component: read a raw CSV into a clean, typed table."""

from typing import NamedTuple

from kfp.dsl import Dataset, Input, Output

from components.runtime import TABLE_PINS, tabular_component
from components.shared import bounded, close_column, exit_quickly, fail
from components.storage import local_path
from components.tables import read_whole_table
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
) -> NamedTuple("Outputs", task=str):
    """Reads a raw table, keeps every row that has a target value, and decides the task.

    The table is a CSV or Parquet file (told apart by its content), or a folder
    of part files with the same columns, read whole.

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
    from collections import namedtuple

    import pandas as pd

    source = raw.uri
    frame, reading = read_whole_table(local_path(raw), source, delimiter, decimal, encoding)
    if target_column not in frame.columns:
        hint = ""
        near = close_column(target_column, frame.columns)
        if near:
            hint = f" Did you mean {near!r}? (The names differ in case or spaces.)"
        if len(frame.columns) == 1 and "delimiter" in reading:
            hint = f" Only one column was found: is the delimiter {reading['delimiter']!r} right?"
        fail(
            f"{source}: target column {target_column!r} not found; columns are "
            f"{bounded(list(frame.columns))}. Set target_column to one of them.{hint}"
        )

    target = frame[target_column]
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        target = target.astype("str").str.strip().replace("", None)
    rows_read = len(frame)
    kept = target.notna()
    target = target[kept]
    if target.empty:
        fail(
            f"{source}: target column {target_column!r} has no values. Fill it in or pick another."
        )
    where = f"{source}: target column {target_column!r}"
    task, reason = decide_task(target, task, where)
    if task == "classification":
        if pd.api.types.is_float_dtype(target):
            target = target.astype("int64")  # whole numbers: decide_task checked
        classes = target.value_counts()
        if len(classes) < 2:
            fail(
                f"{where} has a single class ('{classes.index[0]}', {classes.iloc[0]} rows). "
                "A classifier needs at least two."
            )
    else:
        target = target.astype("float64")
        if target.nunique() < 2:
            fail(f"{where} has a single value ({target.iloc[0]:g}): there is nothing to predict.")
    # Filtering copies the table: only when a row goes.
    if not kept.all():
        frame = frame[kept]
    frame[target_column] = target
    print(f"Task: {task}, for {reason}; set task to override.")

    empty_columns = [
        name for name in frame.columns if name != target_column and frame[name].isna().all()
    ]
    frame = frame.drop(columns=empty_columns).reset_index(drop=True)  # copy-on-write: no copy
    frame.to_parquet(cleaned.path, index=False)

    rows_dropped = rows_read - len(frame)
    cleaned.metadata.update(
        bounded(
            {
                "format": "parquet",
                "reading_options": reading,
                "target_column": target_column,
                "rows_read": rows_read,
                "rows_kept": len(frame),
                "rows_dropped": rows_dropped,
                "drop_reasons": {"missing target": rows_dropped} if rows_dropped else {},
                "dropped_columns": {name: "no values" for name in empty_columns},
                "columns": {name: str(dtype) for name, dtype in frame.dtypes.items()},
                "column_count": len(frame.columns),
                "task": task,
                "task_reason": reason,
                **target_summary(frame[target_column], task),
            }
        )
    )
    print(
        f"Read {rows_read} rows from {source}; kept {len(frame)}, dropped {rows_dropped} "
        f"with no {target_column!r}; {len(frame.columns) - 1} feature columns."
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
