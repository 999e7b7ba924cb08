"""Component: train/test split: seeded and stratified, chronological, or predefined."""

from kfp.dsl import Dataset, Input, Output

from components.memory import chunk_rows_within
from components.runtime import TABLE_PINS, tabular_component
from components.shared import bounded, chunk_rows, exit_quickly, fail
from components.tables import parquet_row_bytes, read_column, split_in_order, split_rows
from components.tasks import decide_task, strata, target_summary
from components.training_options import split_labels, time_keys


@tabular_component(packages=TABLE_PINS)
def split_data(
    data: Input[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
    target_column: str,
    test_size: float = 0.2,
    random_state: int = 42,
    task: str = "auto",
    time_column: str = "",
    split_column: str = "",
    declared_memory_limit: str = "",
):
    """Splits a table into train and test sets with the same target proportions.

    Stratified on the classes, or for regression on the target's quantile bins
    (up to 10), so both sides span the same range. With ``time_column``, the
    latest ``test_size`` share of rows by that column is the test set instead
    (both outputs in time order); with ``split_column``, its values say
    (``train``, ``validation``, ``test``, any case; validation rows stay with
    the training rows, for ``train_model``). Warns when the training rows
    are too few for the model to mean much: fewer than 10 per class (20 for
    regression), or fewer than the feature columns.

    Only the target, time and split columns are held whole (a few bytes a
    row); the rows stream from the input to the outputs in chunks (200,000
    rows, or the environment variable ``KFP_TABULAR_CHUNK_ROWS``), sorted out
    of core for a chronological split, so memory does not grow with the width
    of the table.

    Args:
        data: Parquet table from ``load_data``.
        target_column: Column whose classes (or range) are kept in proportion.
        test_size: Fraction of rows held out, strictly between 0 and 1.
        random_state: Seed; the same seed and data give the same split. Rows
            keep their original order within each output.
        task: ``auto`` (decided from the target, as ``load_data`` does),
            ``classification`` or ``regression``.
        time_column: A date (or number) column: a chronological split.
        split_column: A column of train/validation/test: a predefined split.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``light_memory_limit``); a lower cgroup limit wins. Chunks shrink to
            fit it; where not even 1,000 rows fit, the step stops and says so.

    Returns:
        train: Parquet table of the training rows. Metadata: ``rows``,
            ``class_counts`` (the 20 largest) and ``class_count``, or for
            regression ``target_summary``; ``format``; ``split`` (the method).
        test: Parquet table of the held-out rows, used only for evaluation.
            Metadata as for ``train``.
    """
    import math

    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    source = data.uri
    if not 0 < test_size < 1:
        fail(f"test_size must be between 0 and 1 (exclusive), got {test_size}. Use e.g. 0.2.")
    names = pq.ParquetFile(data.path).schema_arrow.names
    if target_column not in names:
        fail(f"{source}: target column {target_column!r} not found; columns are {names}.")
    # Only the columns that decide the split are held whole (a few bytes a row); the rows
    # themselves stream from the input to the outputs, a chunk at a time.
    wanted = [c for c in (time_column, split_column) if c in names and c != target_column]
    # A chunk moves as Arrow data (about 4 times its pandas size with the filtered
    # copies); held whole: the target, the flags, and a time split's order and ranks.
    per_chunk = chunk_rows_within(
        "split_data", "light_memory_limit", declared_memory_limit,
        4 * parquet_row_bytes(data.path), chunk_rows(),
        held=24 * pq.ParquetFile(data.path).metadata.num_rows,
    )  # fmt: skip
    frame = read_column(data.path, target_column, per_chunk).to_frame()
    if wanted:
        frame = pd.read_parquet(data.path, columns=list(dict.fromkeys(wanted))).assign(
            **{target_column: frame[target_column]}
        )

    where = f"{source}: target column {target_column!r}"
    task, _ = decide_task(frame[target_column], task, where)
    order = None
    if time_column:  # latest rows last: the test rows are the last n_test
        if time_column not in frame.columns:
            fail(f"{source}: time column {time_column!r} not found; columns are {names}.")
        order = np.argsort(time_keys(frame, time_column, source), kind="stable")
        frame = frame.iloc[order]
    labels = pd.Series(strata(frame[target_column], task), index=frame.index)
    class_counts = labels.value_counts()
    rare = class_counts[class_counts < 2]
    if split_column:
        where = f"{source}: split column {split_column!r}"
        if split_column not in frame.columns:
            fail(f"{where} not found; columns are {names}.")
        in_test = split_labels(frame[split_column], where) == "test"
        if in_test.all() or not in_test.any():
            fail(
                f"{where} marks {int(in_test.sum())} of {len(frame)} rows test: mark some, not all."
            )
        test_size, rare = float(in_test.mean()), rare[:0]
    if len(rare) and not time_column:
        shown = [str(label) for label in rare.index[:10]] + (["…"] if len(rare) > 10 else [])
        fail(
            f"{source}: class(es) {shown} of {target_column!r} have a "
            "single row; a stratified split needs at least 2 rows per class. Add rows for them "
            "or remove those rows."
        )
    n_classes = len(class_counts)
    n_test = math.ceil(test_size * len(frame))
    n_train = len(frame) - n_test
    groups = "target ranges" if task == "regression" else "classes"
    if (n_test < n_classes or n_train < n_classes) and not (time_column or split_column):
        fail(
            f"{source}: {len(frame)} rows with {n_classes} {groups} is too few for test_size="
            f"{test_size} ({n_train} train / {n_test} test rows; each side needs at least one row "
            f"per {groups[:-1]}). Provide more rows or change test_size."
        )

    n_features = len(names) - 1
    enough = 20 if task == "regression" else 10 * n_classes
    if n_train < enough or n_train < n_features:
        # "warning: " lines reach the command line's summary.
        what = "a regression" if task == "regression" else f"{n_classes} classes"
        print(
            f"warning: only {n_train} training rows for {what} and {n_features} feature columns "
            f"(fewer than {enough}, or than the columns): the model is unlikely to generalise; "
            "provide more rows or a smaller test_size"
        )

    if split_column:
        method = f"predefined by {split_column!r}"
    elif time_column:
        method = f"chronological by {time_column!r}"
        in_test = np.arange(len(frame)) >= n_train
    else:
        method = "random, stratified"
        # Each class gets its share of the n_test test rows (largest remainders first),
        # at least one row on each side; rows within a class are drawn with the seed.
        # numpy rather than scikit-learn: importing scikit-learn costs 0.8 s a step.
        ideal = class_counts / len(frame) * n_test
        quota = np.floor(ideal).astype(int)
        leftover = n_test - int(quota.sum())
        quota[(ideal - quota).sort_values(ascending=False, kind="stable").index[:leftover]] += 1
        quota = quota.clip(lower=1, upper=class_counts - 1)
        rng = np.random.default_rng(random_state)
        values = labels.to_numpy()
        in_test = np.zeros(len(frame), dtype=bool)
        for label, count in quota.items():
            rows = np.flatnonzero(values == label)  # the class's rows in order, as groupby's
            if len(rows) < 2**31:  # the same draws on half the bytes (a shuffle moves values)
                rows = rows.astype(np.int32)
            in_test[rng.permutation(rows)[:count]] = True
            del rows
    targets = frame[target_column]
    for side, artifact in ((~in_test, train), (in_test, test)):
        artifact.metadata.update(
            bounded(
                {
                    "format": "parquet",
                    "rows": int(side.sum()),
                    "split": method,
                    **target_summary(targets[side], task),
                }
            )
        )
    rows = len(frame)
    if order is not None and not (order == np.arange(rows)).all():
        # Both outputs in time order: rows are sorted out of core (split_in_order).
        rank = np.empty(rows, dtype=np.int64)
        rank[order] = np.arange(rows)
        del frame, targets, order, labels
        split_in_order(data.path, rank, rows - int(in_test.sum()), train.path, test.path, per_chunk)
    else:
        if order is not None:
            in_test = np.asarray(in_test)[np.argsort(order, kind="stable")]
        del frame, targets, labels
        split_rows(data.path, np.asarray(in_test, dtype=bool), train.path, test.path, per_chunk)
    n_test = int(np.count_nonzero(in_test))
    print(f"Split {rows} rows ({method}) into {rows - n_test} train and {n_test} test rows.")
    exit_quickly()
