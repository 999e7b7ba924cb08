"""Benchmark: train_model's own peak memory against the table's in-memory size.

Usage: python -m benchmarks.train_peak --rows 500000 [--train PATH] [--search-space JSON]

Writes issue 32's table (``benchmarks/training_scale.py``: 10 numbers, a 300-value
text column, a 3-value one, a binary target) as the Parquet file split_data would hand
over, then runs ``train_model.python_func`` in a fresh process of its own and prints its
peak resident memory (VmHWM), the table's size as pandas holds it, the bytes a row the
sample's estimate gives (``row_cost``), the seconds, the load, and model.joblib's sha256.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time, types
import pandas as pd
from components.train_model import train_model
train, out, space, limit = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
def artifact(path):
    return types.SimpleNamespace(path=path, uri=path, metadata={},
                                 log_metric=lambda *a: None)
started = time.perf_counter()
try:
    train_model.python_func(
        train=artifact(train), model=artifact(out + "/model"),
        leaderboard=artifact(out + "/leaderboard.html"), leaderboard_metrics=artifact(""),
        target_column="label", search_space=space, declared_memory_limit=limit)
except SystemExit as stop:  # exit_quickly
    if stop.code not in (0, None):
        raise
finally:
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    meta = json.load(open(out + "/model/metadata.json"))
    print("RESULT " + json.dumps({"peak": peak, "seconds": seconds, "sha256": meta["sha256"],
          "rows": meta["training_rows"], "row_bytes": meta.get("training_row_bytes")}), flush=True)
    import os; os._exit(0)
"""


def write_parquet(path: pathlib.Path, rows: int) -> None:
    """Issue 32's table as a Parquet file, typed as pandas reads its CSV."""
    import pandas as pd

    from benchmarks.training_scale import write_table

    csv = path.with_suffix(".csv")
    write_table(csv, rows)
    pd.read_csv(csv).to_parquet(path, index=False)
    csv.unlink()


def main() -> None:
    """Parses the command line, runs train_model once, prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--train", type=pathlib.Path, help="a training Parquet file to use")
    parser.add_argument(
        "--search-space",
        default='[{"model": "random_forest"}, {"model": "hist_gradient_boosting"}]',
    )
    parser.add_argument("--limit", default="", help="declared_memory_limit ('': none)")
    args = parser.parse_args()
    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="kfp-tabular-peak-") as work:
        train = args.train
        if train is None:
            train = pathlib.Path(work) / "train.parquet"
            write_parquet(train, args.rows)
        table = pd.read_parquet(train)
        table_bytes = int(table.memory_usage(deep=True).sum())
        rows = len(table)
        del table
        load = os.getloadavg()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(train), work, args.search_space, args.limit],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            sys.exit(done.stdout[-3000:] + done.stderr[-3000:])
        result = json.loads(line[0][7:])
    mib, peak = 2**20, result["peak"]
    print(
        f"rows {rows:,}; table in pandas {table_bytes / mib:,.0f} MiB "
        f"({table_bytes / rows:.0f} B/row); train_model peak {peak / mib:,.0f} MiB = "
        f"{peak / table_bytes:.1f}x the table ({peak / rows:,.0f} B/row); "
        f"{result['seconds']:.1f} s; fitted {result['rows']:,} rows; row_bytes "
        f"{result['row_bytes']}; sha256 {result['sha256'][:8]}; "
        f"load {load[0]:.1f} -> {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
