"""Test scores of the default training pipeline, over several split seeds.

Usage: python -m benchmarks.quality [--seeds 1 2 3 42] [--search-space JSON]

Runs ``training_pipeline`` with its default parameters on the KFP local runner
on three tables (scikit-learn's breast-cancer table, the tests' messy customer
table, and an XOR table only deep trees or boosting can learn) with each
``random_state`` (which moves the split), and prints the test balanced
accuracy, the model chosen, and the mean per table. ``--search-space`` runs
another candidate list instead of the default, to compare defaults.
"""

import argparse
import json
import pathlib
import tempfile

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer


def write_tables(folder: pathlib.Path) -> dict:
    """Writes the three tables as CSV; returns {name: (path, target column)}."""
    from tests.conftest import make_messy_frame

    cancer = load_breast_cancer(as_frame=True).frame
    cancer["target"] = cancer["target"].map({0: "malignant", 1: "benign"})
    cancer.to_csv(folder / "breast_cancer.csv", index=False)
    make_messy_frame().to_csv(folder / "messy.csv", index=False)
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400)
    xor = pd.DataFrame({"x1": x1, "x2": x2, "noise": rng.normal(size=400)})
    xor["y"] = np.where(x1 * x2 > 0, "same", "different")
    xor.to_csv(folder / "xor.csv", index=False)
    return {
        "breast_cancer": (folder / "breast_cancer.csv", "target"),
        "messy": (folder / "messy.csv", "churned"),
        "xor": (folder / "xor.csv", "y"),
    }


def main() -> None:
    """Runs every table with every seed and prints the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 42])
    parser.add_argument("--search-space", type=json.loads, help="a JSON list; default: the default")
    args = parser.parse_args()
    chosen_space = {} if args.search_space is None else {"search_space": args.search_space}

    from kfp import local

    from pipelines import training_pipeline

    with tempfile.TemporaryDirectory(prefix="kfp-tabular-quality-") as work:
        folder = pathlib.Path(work)
        local.init(local.SubprocessRunner(use_venv=False), pipeline_root=str(folder / "runs"))
        results = {}
        for name, (path, target) in write_tables(folder).items():
            for seed in args.seeds:
                outputs = training_pipeline(
                    data_uri=str(path), target_column=target, random_state=seed, **chosen_space
                ).outputs
                score = outputs["metrics"].metadata["balanced_accuracy"]
                chosen = outputs["model"].metadata["hyperparameters"]["model"]
                results.setdefault(name, []).append((score, chosen))
    for name, runs in results.items():
        shown = ", ".join(f"{score:.4f} ({chosen})" for score, chosen in runs)
        mean = np.mean([score for score, _ in runs])
        print(f"{name:<14} mean {mean:.4f}: {shown}")


if __name__ == "__main__":
    main()
