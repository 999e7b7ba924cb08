"""What the chronological split and a tuned threshold change, measured.

Usage: python -m benchmarks.training_options [--rows 3000] [--seeds 0 1 2 3 4]

1. On a time-ordered table whose target drifts, trains on the first ``rows`` rows
   split at random (stratified) and split chronologically (``time_column``), and
   prints each split's test balanced accuracy beside the model's balanced
   accuracy on the next ``rows // 4`` rows in time, which neither model saw: the
   score a deployed model would get. One table per seed, and the means.
2. On the tests' messy customer table, trains with
   ``threshold_objective=precision_at_recall:0.9`` and prints the chosen
   threshold, the held-out training rows' recall and precision there, and the
   test rows' recall and precision.

The steps run as plain functions (``component.python_func``), as the tests run them.
"""

import argparse
import json
import pathlib
import tempfile

import numpy as np
import pandas as pd


def drifting_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A daily table whose label's dependence on ``x`` drifts with time.

    The label is 1 where ``x`` plus a slowly wandering offset (a mean-reverting
    walk, about a month per swing) plus noise is above 0. With the date as a
    feature, a model learns the offset of the days around each training row:
    that helps on test rows drawn from the same days (a random split), not on
    later days.
    """
    rng = np.random.default_rng(seed)
    steps, offset = rng.normal(0, 0.5, rows), np.zeros(rows)
    for day in range(1, rows):
        offset[day] = 0.9 * offset[day - 1] + steps[day]
    x, other = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    label = (x + offset + rng.normal(0, 0.4, rows) > 0).astype(int)
    days = pd.date_range("2023-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"day": days, "x": x.round(4), "other": other.round(4), "label": label})


def run_steps(csv: pathlib.Path, target: str, folder: pathlib.Path, **options):
    """load, split, train and evaluate as plain functions; returns (model, test metrics)."""
    from kfp.dsl import HTML, Metrics

    from components import load_data, split_data, train_model
    from tests.conftest import dataset, evaluate, model_artifact

    folder.mkdir(parents=True, exist_ok=True)
    cleaned, train, test = (dataset(folder / name) for name in ("cleaned", "train", "test"))
    model = model_artifact(folder / "model")
    split = {name: options.pop(name) for name in ("time_column", "split_column") if name in options}
    load_data.python_func(raw=dataset(csv), cleaned=cleaned, target_column=target)
    split_data.python_func(data=cleaned, train=train, test=test, target_column=target, **split)
    train_model.python_func(
        train=train, model=model, target_column=target,
        leaderboard=HTML(name="board", uri=str(folder / "board.html"), metadata={}),
        leaderboard_metrics=Metrics(name="board", uri=str(folder / "board"), metadata={}),
        **split, **options,
    )  # fmt: skip
    metrics, _, _ = evaluate(model, test, folder)
    return model, metrics


def score_on(model, frame: pd.DataFrame, target: str) -> dict:
    """The model's metrics on other rows (as evaluate_model computes them)."""
    from components.features import select_features
    from components.shared import load_model_dir
    from components.tasks import predict_and_score

    estimator, meta = load_model_dir(model.path, model.path)
    inputs = select_features(frame, meta["features"], "rows")
    truth = frame[target].to_numpy()
    return predict_and_score(estimator, inputs, truth, meta["task"], None, meta.get("threshold"))[0]


def split_comparison(rows: int, seed: int, folder: pathlib.Path) -> dict:
    """Test score of each split beside the score on the next rows in time."""
    table = drifting_frame(rows + rows // 4, seed)
    past, future = table.iloc[:rows], table.iloc[rows:]
    past.to_csv(folder / "past.csv", index=False)
    result = {}
    for name, options in (("random", {}), ("chronological", {"time_column": "day"})):
        model, metrics = run_steps(
            folder / "past.csv", "label", folder / name, search_space=[{}], **options
        )
        result[name] = {
            "test": round(metrics["balanced_accuracy"], 4),
            "next_rows": round(score_on(model, future, "label")["balanced_accuracy"], 4),
        }
    return result


def threshold_choice(folder: pathlib.Path) -> dict:
    """precision_at_recall:0.9 on the messy table: the threshold and what it gives."""
    from tests.conftest import make_messy_frame

    make_messy_frame(rows=2000).to_csv(folder / "messy.csv", index=False)
    model, metrics = run_steps(
        folder / "messy.csv", "churned", folder / "tuned", search_space=[{}],
        threshold_objective="precision_at_recall:0.9",
    )  # fmt: skip
    meta = json.loads((pathlib.Path(model.path) / "metadata.json").read_text())
    choice = meta["threshold_choice"]
    return {
        "positive_class": meta["positive_class"],
        "threshold": choice["threshold"],
        "held_out": {"rows": choice["rows"], "recall": choice["recall"]}
        | {"precision": choice["precision"]},
        "test": {
            "recall": round(metrics["recall"], 4),
            "precision": round(metrics["precision"], 4),
        },
    }


def main(argv=None) -> None:
    """Prints both comparisons as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        splits = {seed: split_comparison(args.rows, seed, folder) for seed in args.seeds}
        means = {
            name: {
                score: round(float(np.mean([s[name][score] for s in splits.values()])), 4)
                for score in ("test", "next_rows")
            }
            for name in ("random", "chronological")
        }
        result = {"split": splits, "split_means": means, "threshold": threshold_choice(folder)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
