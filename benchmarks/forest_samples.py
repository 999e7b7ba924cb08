"""Benchmark: what bounding a random forest's bootstrap sample costs and saves.

Usage: python -m benchmarks.forest_samples [--rows 266666] [--caps 100000 200000 0]

The default pipeline's forest (100 trees, 5 rows a leaf, every core) is fitted
with out-of-bag scores on ``--rows`` rows of the 20-feature, 3-class table of
``benchmarks/scoring.py`` (266,666: the first round of successive halving at 1M
rows), each tree drawing ``max_samples`` rows (0: all of them). It prints the
seconds of the fit, the out-of-bag balanced accuracy, that on 100,000 rows left
out, the trees' nodes and the pickled size: the figures that chose
``forest_samples`` in ``components/families.py``.
"""

import argparse
import io
import time


def main() -> None:
    """Fits the forest for each cap and prints its figures."""
    import joblib
    import numpy as np
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import balanced_accuracy_score

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=266_666)
    parser.add_argument("--caps", type=int, nargs="+", default=[100_000, 200_000, 0])
    args = parser.parse_args()
    features, labels = make_classification(
        n_samples=1_000_000, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    features = features.round(4)
    drawn = np.sort(np.random.default_rng(0).permutation(len(features))[: args.rows])
    left_out = np.setdiff1d(np.arange(len(features)), drawn)[:100_000]
    for cap in args.caps:
        started = time.perf_counter()
        forest = RandomForestClassifier(
            min_samples_leaf=5, max_samples=cap or None, oob_score=True, n_jobs=-1, random_state=42
        ).fit(features[drawn], labels[drawn])
        seconds = time.perf_counter() - started
        oob = forest.oob_decision_function_
        seen = oob.sum(axis=1) > 0
        oob_score = balanced_accuracy_score(labels[drawn][seen], oob[seen].argmax(axis=1))
        for name in ("oob_decision_function_", "oob_score_"):
            vars(forest).pop(name)
        held = balanced_accuracy_score(labels[left_out], forest.predict(features[left_out]))
        buffer = io.BytesIO()
        joblib.dump(forest, buffer)
        nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
        print(
            f"{args.rows:,} rows, max_samples {cap or 'all'}: {seconds:.1f} s, out-of-bag "
            f"balanced accuracy {oob_score:.4f}, left out {held:.4f}, {nodes / 1e6:.2f}M nodes, "
            f"{buffer.tell() / 2**20:.0f} MiB pickled",
            flush=True,
        )


if __name__ == "__main__":
    main()
