"""Held-out quality of the default training pipeline beside LightGBM and AutoGluon.

Usage: python -m benchmarks.versus [--tables wine oj ...] [--peers-dir .venv-peers]
       [--search-space JSON] [--out runs/quality.json]

``make bench-quality`` builds the peers' environments and runs this. For each
public table (scikit-learn's, statsmodels' and ISLP's bundled files, written as
CSV by ``benchmarks/peer_tables.py`` in the LightGBM peer's environment, no
downloads), ours is ``training_pipeline`` with its default parameters on the
KFP local runner: its seeded, stratified 80/20 split is the benchmark's split,
and its evaluation on the test rows is our score. The peers are then fitted on
the same training rows and scored on the same test rows, each with its own
Python (``benchmarks/peer_fit.py``): LightGBM 4.7 defaults with pandas
categories, AutoGluon-Tabular 1.6.3 ``medium_quality``. Metric: ROC AUC for two
classes, accuracy for more, r2 for regression. Prints each score, ours over
the best peer, and the wall times (ours: the whole pipeline, every step's
start-up included; a peer: its process, import and fit).

A test set of a few hundred rows is a noisy judge, so each ratio comes with a
paired bootstrap interval: the test rows are drawn with replacement 1,000 times
(seeded), ours and each peer are scored on the same draw, and the 2.5th and
97.5th percentiles of ours over the best peer are printed. Where the interval
reaches 0.99, the test rows cannot tell ours from the best peer at that margin.
Our per-row outputs come from the pipeline's saved model on the test rows; the
score they give is checked against ``evaluate_model``'s.
"""

import argparse
import json
import pathlib
import subprocess
import tempfile
import time

PEERS = ("lightgbm", "autogluon")
HERE = pathlib.Path(__file__).resolve().parent


def run_peer(python: pathlib.Path, peer: str, train, test, target: str, task: str) -> dict:
    """One peer's score, wall seconds and per-test-row outputs (``scored``) on the split."""
    scored = pathlib.Path(test).with_name(f"{pathlib.Path(test).stem}-{peer}.json")
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), str(HERE / "peer_fit.py"), peer, str(train), str(test), target, task,
         str(scored)],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{peer} failed on {train}:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "seconds": round(seconds, 1), "scored": json.loads(scored.read_text())}


def our_outputs(model_dir: pathlib.Path, test, metric: str) -> list:
    """What our saved model gives each test row, in the form ``metric_on`` scores."""
    import joblib

    from components.features import select_features

    metadata = json.loads((model_dir / "metadata.json").read_text())
    pipeline = joblib.load(model_dir / "model.joblib")
    inputs = select_features(test, metadata["features"], str(model_dir))
    if metric == "roc_auc":
        return pipeline.predict_proba(inputs)[:, 1].tolist()
    return pipeline.predict(inputs).tolist()


def metric_on(metric: str, truth, scored, positive=None) -> float:
    """The benchmark's metric of per-row outputs (ROC AUC: against ``positive``)."""
    import numpy as np
    from sklearn import metrics

    truth, scored = np.asarray(truth), np.asarray(scored)
    if metric == "r2":
        return float(metrics.r2_score(truth.astype(float), scored.astype(float)))
    if metric == "accuracy":
        return float(np.mean(truth.astype(str) == scored.astype(str)))
    return float(metrics.roc_auc_score(truth.astype(str) == str(positive), scored))


def bootstrap_ratio(metric: str, truth, ours, peers: list, positive=None, draws=1000) -> list:
    """The 2.5th and 97.5th percentiles of ours over the best peer on resampled test rows."""
    import numpy as np

    rng = np.random.default_rng(0)
    truth, ratios = np.asarray(truth), []
    for _ in range(draws):
        rows = rng.integers(0, len(truth), len(truth))
        if metric == "roc_auc" and len(set(truth[rows].astype(str) == str(positive))) < 2:
            continue  # a draw without both classes has no ROC AUC
        best = max(metric_on(metric, truth[rows], np.asarray(p)[rows], positive) for p in peers)
        if best > 0:
            ratios.append(metric_on(metric, truth[rows], np.asarray(ours)[rows], positive) / best)
    return [round(float(q), 4) for q in np.percentile(ratios, [2.5, 97.5])]


def our_score(task: str, classes: int, metrics: dict) -> tuple:
    """Our test score in the benchmark's metric, from evaluate_model's metrics."""
    metric = "r2" if task == "regression" else ("roc_auc" if classes == 2 else "accuracy")
    return metric, metrics[metric]


def main() -> None:
    """Runs every table and prints the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", default=[], help="default: all")
    parser.add_argument("--peers-dir", type=pathlib.Path, default=pathlib.Path(".venv-peers"))
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    parser.add_argument("--search-space", type=json.loads, help="a JSON list; default: the default")
    parser.add_argument("--out", type=pathlib.Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    chosen_space = {} if args.search_space is None else {"search_space": args.search_space}

    import pandas as pd
    from kfp import local

    from pipelines import training_pipeline

    pythons = {peer: args.peers_dir / peer / "bin" / "python" for peer in args.peers}
    reader = args.peers_dir / "lightgbm" / "bin" / "python"
    for path in {*pythons.values(), reader}:
        if not path.exists():
            raise SystemExit(f"{path} is missing: run `make peers-env` first.")
    rows = []
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-versus-") as work:
        folder = pathlib.Path(work)
        subprocess.run(
            [str(reader), str(HERE / "peer_tables.py"), str(folder / "tables"), *args.tables],
            check=True,
        )
        index = json.loads((folder / "tables" / "tables.json").read_text())
        for name, table in index.items():
            root = folder / "runs" / name
            local.init(local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
            started = time.perf_counter()
            outputs = training_pipeline(
                data_uri=str(folder / "tables" / f"{name}.csv"),
                target_column=table["target"],
                **chosen_space,
            ).outputs
            ours_seconds = time.perf_counter() - started
            model = outputs["model"].metadata
            task, classes = model["task"], len(model.get("classes", []))
            metric, ours = our_score(task, classes, outputs["metrics"].metadata)
            split = {}
            for part in ("train", "test"):  # the pipeline's own split, handed to the peers
                (found,) = root.glob(f"**/split-data/{part}")
                split[part] = folder / f"{name}-{part}.csv"
                pd.read_parquet(found).to_csv(split[part], index=False)
            row = {
                "table": name, "source": table["source"], "rows": table["rows"], "task": task,
                "classes": classes, "metric": metric, "ours": round(float(ours), 4),
                "ours_seconds": round(ours_seconds, 1),
                "ours_model": model["hyperparameters"]["model"],
            }  # fmt: skip
            test = pd.read_csv(split["test"])
            truth = test[table["target"]].to_numpy()
            positive = model["classes"][-1] if metric == "roc_auc" else None
            ours_scored = our_outputs(pathlib.Path(outputs["model"].path), test, metric)
            again = metric_on(metric, truth, ours_scored, positive)
            if abs(again - float(ours)) > 1e-6:
                raise SystemExit(f"{name}: the saved model scores {again}, evaluate_model {ours}.")
            peers_scored = []
            for peer, python in pythons.items():
                result = run_peer(
                    python, peer, split["train"], split["test"], table["target"], task
                )
                row[peer], row[f"{peer}_seconds"] = round(result["score"], 4), result["seconds"]
                peers_scored.append(result["scored"])
            best = max(row[peer] for peer in pythons)
            row["ratio"] = round(row["ours"] / best, 4) if best > 0 else None
            row["interval"] = bootstrap_ratio(metric, truth, ours_scored, peers_scored, positive)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print_table(rows, list(pythons))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2))


def print_table(rows: list, peers: list) -> None:
    """The comparison as a Markdown table, with the mean and worst ratio and total times."""
    head = [
        "table",
        "rows",
        "metric",
        "ours",
        *peers,
        "ours/best",
        "95% interval",
        "ours s",
        *[f"{p} s" for p in peers],
    ]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [row["table"], row["rows"], row["metric"], f"{row['ours']:.4f}"]
        cells += [f"{row[peer]:.4f}" for peer in peers]
        cells += [f"{row['ratio']:.3f}" if row["ratio"] is not None else "n/a"]
        cells += ["{:.3f}-{:.3f}".format(*row["interval"]) if row.get("interval") else "n/a"]
        cells += [f"{row['ours_seconds']:.0f}"] + [
            f"{row[f'{peer}_seconds']:.0f}" for peer in peers
        ]
        print("| " + " | ".join(map(str, cells)) + " |")
    ratios = [row["ratio"] for row in rows if row["ratio"] is not None]
    if ratios:
        print(f"\nours / best peer: mean {sum(ratios) / len(ratios):.3f}, worst {min(ratios):.3f}")
        short = [row for row in rows if row["ratio"] is not None and row["ratio"] < 0.99]
        apart = [row["table"] for row in short if row.get("interval") and row["interval"][1] < 0.99]
        print(
            f"below 0.99x: {len(short)} of {len(rows)} tables"
            "; below it beyond the test rows' noise (the interval under 0.99): "
            f"{apart or 'none'}"
        )
    for who in ["ours", *peers]:
        print(f"{who} total seconds: {sum(row[f'{who}_seconds'] for row in rows):.0f}")


if __name__ == "__main__":
    main()
