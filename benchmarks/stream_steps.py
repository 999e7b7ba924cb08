"""Benchmark: the peak memory of the streaming steps (load, validate, split, evaluate, bless).

Usage: python -m benchmarks.stream_steps [--sizes 2000000 10000000] [--out runs/stream.json]
[--keep FOLDER]

For each size, a CSV of the issue 32 table (10 numbers, a 300-value text
column, a 3-value one, a binary target; 0.85 GiB at 10M rows) is written, then
each step runs as a plain function (``component.python_func``) in a process of
its own, whose peak resident memory (VmHWM) is its figure: load_data on
the CSV, validate_data and split_data on its output, evaluate_model on the test
rows with a small model (a 50-iteration gradient boosting fitted on 50,000
training rows: the step's own cost, not the model's), and bless_model with that
model as its baseline too, so that it scores the test rows. It prints each
step's seconds and peak MiB, the peak against the table's in-memory size
(pandas, from its first 200,000 rows), and with several sizes the peak at the
largest against the smallest: the target is at most 1.5x from 2M to 10M rows,
and every peak under the step's declared limit (4G for load, validate, split
and bless without a baseline, 8G for evaluate; ``pipelines/task_settings.py``).

``step_peaks`` is the measurement alone, for other benchmarks.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

PYTHON = sys.executable
# Each step in a fresh process: its peak is its own. Arguments: folder, step.
STEP = """
import json, pathlib, sys, time
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Markdown, Metrics, Model
import components as c
folder, step = pathlib.Path(sys.argv[1]), sys.argv[2]
def data(name, **meta):
    return Dataset(name=name, uri=str(folder / name), metadata=meta)
def metrics(name):
    return Metrics(name=name, uri=str(folder / name), metadata={})
started = time.perf_counter()
if step == "load_data":
    c.load_data.python_func(raw=data("table.csv"), cleaned=data("cleaned"), target_column="y")
elif step == "validate_data":
    c.validate_data.python_func(
        data=data("cleaned"), report=HTML(name="r", uri=str(folder / "report.html"), metadata={}),
        metrics=metrics("validation"), target_column="y",
    )
elif step == "split_data":
    c.split_data.python_func(
        data=data("cleaned"), train=data("train"), test=data("test"), target_column="y"
    )
elif step == "train_model":
    import pyarrow.parquet as pq
    rows = next(pq.ParquetFile(folder / "train").iter_batches(batch_size=50_000))
    pq.write_table(__import__("pyarrow").Table.from_batches([rows]), folder / "small_train")
    c.train_model.python_func(
        train=data("small_train"), model=Model(name="m", uri=str(folder / "model"), metadata={}),
        leaderboard=HTML(name="l", uri=str(folder / "board.html"), metadata={}),
        leaderboard_metrics=metrics("board"), target_column="y",
        search_space=[{"model": "hist_gradient_boosting", "max_iter": 50}],
    )
elif step == "evaluate_model":
    scores = metrics("scores")
    c.evaluate_model.python_func(
        model=Model(name="m", uri=str(folder / "model"), metadata={}), test=data("test"),
        metrics=scores, classification_metrics=ClassificationMetrics(
            name="c", uri=str(folder / "c"), metadata={}),
        trivial_metrics=metrics("trivial"),
        report=HTML(name="e", uri=str(folder / "evaluation.html"), metadata={}),
    )
    (folder / "scores.json").write_text(json.dumps(dict(scores.metadata)))
elif step == "bless_model":
    model = Model(name="m", uri=str(folder / "model"), metadata={})
    scores = json.loads((folder / "scores.json").read_text())
    c.bless_model.python_func(
        model=model, metrics=Metrics(name="s", uri="", metadata=scores),
        trivial_metrics=Metrics(name="t", uri="", metadata={}), test=data("test"),
        decision=Markdown(name="d", uri=str(folder / "decision.md"), metadata={}),
        decision_metrics=metrics("decision"), baseline_model_uri=str(folder / "model"),
    )
seconds = time.perf_counter() - started
# VmHWM, the process's own high-water mark: ru_maxrss keeps the parent's across exec.
status = pathlib.Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"peak_mib": round(peak, 1), "seconds": round(seconds, 1)}))
"""
STEPS = ("load_data", "validate_data", "split_data", "train_model", "evaluate_model", "bless_model")
MEASURED = ("load_data", "validate_data", "split_data", "evaluate_model", "bless_model")
DECLARED_MIB = {
    "load_data": 4e9 / 2**20,
    "validate_data": 4e9 / 2**20,
    "split_data": 4e9 / 2**20,
    "evaluate_model": 8e9 / 2**20,
    "bless_model": 8e9 / 2**20,  # heavy with a baseline (it scores the test rows)
}


def write_table(path: pathlib.Path, rows: int, seed: int = 0) -> None:
    """The issue 32 table, ``rows`` rows, written 1M rows at a time (its memory stays small)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cities = np.array([f"city_{i:03d}" for i in range(300)])
    city_effect = rng.normal(0, 0.5, 300)
    weights = rng.normal(0, 1, 10)
    for start in range(0, rows, 1_000_000):
        size = min(1_000_000, rows - start)
        numbers = rng.normal(size=(size, 10))
        city = rng.integers(0, 300, size)
        plan = rng.choice(np.array(["basic", "plus", "premium"]), size)
        logit = numbers @ weights / 3 + city_effect[city] + (plan == "premium") * 0.7
        target = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype(int)
        frame = pd.DataFrame(numbers.round(4), columns=[f"x{i}" for i in range(10)])
        frame["city"], frame["plan"], frame["y"] = cities[city], plan, target
        frame.to_csv(path, mode="a" if start else "w", header=not start, index=False)


def table_mib(path: pathlib.Path, rows: int) -> float:
    """The table's in-memory size as pandas reads it, MiB (from its first 200,000 rows)."""
    import pandas as pd

    sample = pd.read_csv(path, nrows=200_000)
    return round(sample.memory_usage(deep=True).sum() * rows / len(sample) / 2**20, 1)


def step_peaks(folder: pathlib.Path) -> dict:
    """Runs every step on ``folder``/table.csv; each measured step's peak MiB and seconds."""
    figures = {}
    for step in STEPS:
        done = subprocess.run(
            [PYTHON, "-c", STEP, str(folder), step], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{step} failed: {(done.stderr or done.stdout)[-2000:]}")
        figures[step] = json.loads(done.stdout.strip().splitlines()[-1])
    return {step: figures[step] for step in MEASURED}


def main() -> None:
    """Parses the command line, measures each size, prints the figures and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000_000, 10_000_000])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/stream.json"))
    parser.add_argument("--keep", type=pathlib.Path, help="keep the tables and outputs here")
    options = parser.parse_args()
    results = {}
    for rows in options.sizes:
        folder = pathlib.Path(tempfile.mkdtemp(prefix=f"stream-{rows}-", dir=options.keep))
        started = time.perf_counter()
        write_table(folder / "table.csv", rows)
        written = time.perf_counter() - started
        size = table_mib(folder / "table.csv", rows)
        steps = step_peaks(folder)
        results[rows] = {"table_mib": size, "write_s": round(written, 1), "steps": steps}
        print(f"{rows:,} rows: table {size:,.0f} MiB in pandas (CSV written in {written:.0f} s)")
        for step, figure in steps.items():
            print(
                f"  {step:15} {figure['seconds']:7.1f} s  peak {figure['peak_mib']:7,.0f} MiB"
                f"  {figure['peak_mib'] / size:5.2f}x the table"
                f"  (declared limit {DECLARED_MIB[step]:,.0f} MiB)"
            )
        if not options.keep:
            shutil.rmtree(folder)
    if len(results) > 1:
        small, large = min(results), max(results)
        print(f"Peak at {large:,} rows against {small:,} (target at most 1.5x):")
        for step in MEASURED:
            ratio = (
                results[large]["steps"][step]["peak_mib"]
                / results[small]["steps"][step]["peak_mib"]
            )
            print(f"  {step:15} {ratio:.2f}x")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
