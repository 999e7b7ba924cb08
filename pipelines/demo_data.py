"""The bundled default dataset: scikit-learn's breast cancer table, written to CSV."""

import pathlib


def write_demo_data(folder: pathlib.Path, held_out: float = 0.1, seed: int = 0):
    """Writes the demo CSVs: rows to train on, and held-out rows to score.

    The data ships inside scikit-learn (no download). Labels are the class names
    (``malignant``, ``benign``) in a ``diagnosis`` column.

    Args:
        folder: Where to write; created if missing.
        held_out: Fraction of rows kept apart for batch prediction.
        seed: Seed for choosing the held-out rows.

    Returns:
        Paths ``(training_csv, new_rows_csv, new_rows_truth_csv)``; the new rows
        come without their label, which is in the truth file.
    """
    from sklearn.datasets import load_breast_cancer

    dataset = load_breast_cancer(as_frame=True)
    frame = dataset.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map(dict(enumerate(dataset.target_names)))
    new_rows = frame.sample(frac=held_out, random_state=seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "breast_cancer.csv", folder / "new_rows.csv", folder / "new_rows_truth.csv"
    frame.drop(index=new_rows.index).to_csv(paths[0], index=False)
    new_rows.drop(columns="diagnosis").to_csv(paths[1], index=False)
    new_rows[["diagnosis"]].to_csv(paths[2], index=False)
    return paths
