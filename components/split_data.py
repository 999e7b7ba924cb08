"""Component: seeded, stratified train/test split."""

from kfp.dsl import Dataset, Input, Output

from components.runtime import tabular_component
from components.shared import bounded, fail


@tabular_component
def split_data(
    data: Input[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
    target_column: str,
    test_size: float = 0.2,
    random_state: int = 42,
):
    """Splits a table into train and test sets with the same class proportions.

    Warns when the training rows are too few for the model to mean much: fewer
    than 10 per class, or fewer than the feature columns.

    Args:
        data: Parquet table from ``load_data``.
        target_column: Column whose classes are kept in proportion.
        test_size: Fraction of rows held out, strictly between 0 and 1.
        random_state: Seed; the same seed and data give the same split. Rows
            keep their original order within each output.

    Returns:
        train: Parquet table of the training rows. Metadata: ``rows``,
            ``class_counts`` (the 20 largest), ``class_count``, ``format``.
        test: Parquet table of the held-out rows, used only for evaluation.
            Metadata as for ``train``.
    """
    import math

    import numpy as np
    import pandas as pd

    source = data.uri
    if not 0 < test_size < 1:
        fail(f"test_size must be between 0 and 1 (exclusive), got {test_size}. Use e.g. 0.2.")
    frame = pd.read_parquet(data.path)
    if target_column not in frame.columns:
        columns = list(frame.columns)
        fail(f"{source}: target column {target_column!r} not found; columns are {columns}.")

    class_counts = frame[target_column].value_counts()
    rare = class_counts[class_counts < 2]
    if len(rare):
        labels = [str(label) for label in rare.index[:10]] + (["…"] if len(rare) > 10 else [])
        fail(
            f"{source}: class(es) {labels} of {target_column!r} have a "
            "single row; a stratified split needs at least 2 rows per class. Add rows for them "
            "or remove those rows."
        )
    n_classes = len(class_counts)
    n_test = math.ceil(test_size * len(frame))
    n_train = len(frame) - n_test
    if n_test < n_classes or n_train < n_classes:
        fail(
            f"{source}: {len(frame)} rows with {n_classes} classes is too few for test_size="
            f"{test_size} ({n_train} train / {n_test} test rows; each side needs at least one row "
            f"per class). Provide more rows or change test_size."
        )

    n_features = len(frame.columns) - 1
    if n_train < 10 * n_classes or n_train < n_features:
        # "warning: " lines reach the command line's summary.
        print(
            f"warning: only {n_train} training rows for {n_classes} classes and {n_features} "
            "feature columns (fewer than 10 a class, or than the columns): the model is unlikely "
            "to generalise; provide more rows or a smaller test_size"
        )

    # Each class gets its share of the n_test test rows (largest remainders first),
    # at least one row on each side; rows within a class are drawn with the seed.
    # numpy rather than scikit-learn: importing scikit-learn costs 0.8 s a step.
    ideal = class_counts / len(frame) * n_test
    quota = np.floor(ideal).astype(int)
    leftover = n_test - int(quota.sum())
    quota[(ideal - quota).sort_values(ascending=False, kind="stable").index[:leftover]] += 1
    quota = quota.clip(lower=1, upper=class_counts - 1)
    rng = np.random.default_rng(random_state)
    rows_of = frame.groupby(target_column, sort=False).indices
    in_test = np.zeros(len(frame), dtype=bool)
    for label, count in quota.items():
        in_test[rng.permutation(rows_of[label])[:count]] = True
    train_rows, test_rows = frame[~in_test], frame[in_test]
    for rows, artifact in ((train_rows, train), (test_rows, test)):
        rows.to_parquet(artifact.path, index=False)
        counts = rows[target_column].value_counts()
        artifact.metadata.update(
            bounded(
                {
                    "format": "parquet",
                    "rows": len(rows),
                    "class_counts": {str(label): int(count) for label, count in counts.items()},
                    "class_count": len(counts),
                }
            )
        )
    print(f"Split {len(frame)} rows into {len(train_rows)} train and {len(test_rows)} test rows.")
