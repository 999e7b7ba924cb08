"""Component: seeded, stratified train/test split."""

from kfp.dsl import Dataset, Input, Output

from components.runtime import tabular_component
from components.shared import fail


@tabular_component(helpers=[fail])
def split_data(
    data: Input[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
    target_column: str,
    test_size: float = 0.2,
    random_state: int = 42,
):
    """Splits a table into train and test sets with the same class proportions.

    Args:
        data: Parquet table from ``load_data``.
        target_column: Column whose classes are kept in proportion.
        test_size: Fraction of rows held out, strictly between 0 and 1.
        random_state: Seed; the same seed and data give the same split.

    Returns:
        train: Parquet table of the training rows. Metadata: ``rows``,
            ``class_counts``, ``format``.
        test: Parquet table of the held-out rows, used only for evaluation.
            Metadata as for ``train``.
    """
    import math

    import pandas as pd
    from sklearn.model_selection import train_test_split

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

    train_rows, test_rows = train_test_split(
        frame,
        test_size=test_size,
        random_state=random_state,
        stratify=frame[target_column],
    )
    for rows, artifact in ((train_rows, train), (test_rows, test)):
        rows.to_parquet(artifact.path, index=False)
        counts = rows[target_column].value_counts()
        artifact.metadata.update(
            {
                "format": "parquet",
                "rows": len(rows),
                "class_counts": {str(label): int(count) for label, count in counts.items()},
            }
        )
    print(f"Split {len(frame)} rows into {len(train_rows)} train and {len(test_rows)} test rows.")
