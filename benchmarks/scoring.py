"""Benchmark: batch scoring at any size, one and two shards, and training at scale, per step.

Usage: python -m benchmarks.scoring [--sizes 20000 100000] [--large] [--train-sizes 2000000 5000000]
[--out runs/scoring.json] [--keep FOLDER]

A model is trained once on 20,000 rows of the 20-feature, 3-class table of
``benchmarks/run.py`` (four decimals a number): by default a 50-iteration
gradient boosting, so that the figures show the steps' costs rather than the
model's (``--search-space ''`` for the default pipeline's choice).
Then for each size a CSV of that many rows is scored by
``batch_prediction_pipeline`` on the KFP local runner, with one and with two
shards. ``--large`` adds 1,000,000 and 10,000,000 rows (the 10M file is the 1M
rows ten times over). ``--train-sizes`` runs the default training pipeline on
tables that large (2M rows: 4 minutes, 5M: 13 minutes on 2 shared cores;
``--sizes`` with no value skips the scoring runs).

Each step's peak memory is the high-water mark (VmHWM) of its own process, read
from /proc every 0.2 s while it runs; time a step from the runner's log. It
prints rows a second, the peak MiB of each step, the targets (peak at most
1 GiB a step at 10M rows, time at 10M at most ten times the time at 1M, two
shards no slower than one) and whether the predictions of two shards equal one's.
"""

import argparse
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.run import step_seconds

PYTHON = sys.executable
BASE_ROWS = 1_000_000
# The model the scoring runs use: the steps' own costs, not the model's, are measured.
SMALL_MODEL = '[{"model": "hist_gradient_boosting", "max_iter": 50}]'
SCORE = """
import sys
from kfp import local
from pipelines import batch_prediction_pipeline
root, model, data, shards = sys.argv[1:]
local.init(local.SubprocessRunner(use_venv=False), pipeline_root=root, raise_on_error=True)
batch_prediction_pipeline(model_uri=model, data_uri=data, shards=int(shards))
"""


def write_rows(path: pathlib.Path, rows: int) -> None:
    """A CSV of ``rows`` rows of the 20-feature table: the first of 1M rows, or those repeated.

    Always from the same 1M rows, so the model's training rows and the rows it
    scores come from one distribution (make_classification's draws depend on
    its n_samples).
    """
    import pandas as pd
    from sklearn.datasets import make_classification

    features, labels = make_classification(
        n_samples=BASE_ROWS, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    frame = pd.DataFrame(features.round(4), columns=[f"f{i}" for i in range(20)])
    frame["label"] = pd.Series(labels).map({0: "low", 1: "mid", 2: "high"})
    frame.head(rows).to_csv(path, index=False)
    if rows > BASE_ROWS:
        with open(path, "rb") as handle:
            handle.readline()
            body = handle.read()
        with open(path, "ab") as handle:
            for _ in range(rows // BASE_ROWS - 1):
                handle.write(body)


class StepPeaks(threading.Thread):
    """Samples the peak RSS of every step process running under a marker path."""

    def __init__(self, marker: str):
        super().__init__(daemon=True)
        self.marker, self.peaks, self.done = marker, {}, threading.Event()

    def run(self):
        """Samples until ``done`` is set."""
        while not self.done.is_set():
            for proc in pathlib.Path("/proc").glob("[0-9]*"):
                try:
                    words = (proc / "cmdline").read_bytes().split(b"\0")
                    if self.marker.encode() not in b" ".join(words):
                        continue
                    step = words[words.index(b"--function_to_execute") + 1].decode()
                    status = (proc / "status").read_text()
                except (OSError, ValueError, IndexError):
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        mib = int(line.split()[1]) / 1024
                        key = (step, proc.name)
                        self.peaks[key] = max(self.peaks.get(key, 0), mib)
            time.sleep(0.2)

    def by_step(self) -> dict:
        """The largest peak of each step's processes, MiB."""
        steps = {}
        for (step, _), mib in self.peaks.items():
            steps[step] = round(max(steps.get(step, 0), mib), 1)
        return steps


def run_measured(command: list[str], marker: str, log: pathlib.Path) -> dict:
    """Runs a command; its wall time, each step's peak MiB and each task's seconds."""
    peaks = StepPeaks(marker)
    peaks.start()
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    peaks.done.set()
    peaks.join()
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} failed: {log.read_text()[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "peak_mib": peaks.by_step(),
        "steps_s": step_seconds(log.read_text(encoding="utf-8", errors="replace")),
    }


def train(data: pathlib.Path, runs: pathlib.Path, *options: str) -> dict:
    """The training pipeline on ``data`` (default parameters but ``options``), measured."""
    command = [PYTHON, "-m", "pipelines", "train", "--data", str(data), "--target", "label"]
    command += options
    log = runs.parent / f"{runs.name}.log"
    result = run_measured([*command, "--output-dir", str(runs)], str(runs), log)
    # The command line prints "done  <task> in <seconds> s" for each task.
    done = re.findall(r"done\s+(\S+) in ([\d.]+) s", log.read_text(errors="replace"))
    result["steps_s"] = result["steps_s"] or {task: float(sec) for task, sec in done}
    (run,) = runs.glob("training-pipeline-*")
    result["model"] = str(run / "train-model" / "model")
    return result


def score(model: str, data: pathlib.Path, root: pathlib.Path, shards: int, rows: int) -> dict:
    """The batch-prediction pipeline on ``data``, measured; adds rows/s and the output's digest."""
    command = [PYTHON, "-c", SCORE, str(root), model, str(data), str(shards)]
    result = run_measured(command, str(root), root.parent / f"score-{rows}-{shards}.log")
    (gathered,) = root.glob("batch-prediction-pipeline-*/gather-predictions/predictions")
    digest = hashlib.sha256()
    with open(gathered, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    shutil.rmtree(root)  # the disk: 10M rows of predictions are 2 GB, twice (parts, gathered)
    result.update(rows_per_s=round(rows / result["wall_s"]), sha256=digest.hexdigest()[:16])
    return result


def table_mib(data: pathlib.Path, rows: int) -> float:
    """The in-memory size of the table read by pandas, MiB (from its first 100,000 rows)."""
    import pandas as pd

    sample = pd.read_csv(data, nrows=100_000)
    return round(sample.memory_usage(deep=True).sum() * rows / len(sample) / 2**20, 1)


def main() -> None:
    """Parses the command line, runs every measurement, prints the figures and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[20_000, 100_000], help="none: no scoring runs"
    )
    parser.add_argument("--large", action="store_true", help="also 1M and 10M rows (slow)")
    parser.add_argument("--train-sizes", type=int, nargs="*", default=[])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/scoring.json"))
    parser.add_argument(
        "--search-space",
        default=SMALL_MODEL,
        help="the scoring model's candidates (default: 50-iteration gradient boosting; '' for "
        "the default pipeline's, about ten times slower to score)",
    )
    parser.add_argument("--keep", type=pathlib.Path, help="work in this folder and keep the logs")
    args = parser.parse_args()
    sizes = args.sizes + ([1_000_000, 10_000_000] if args.large else [])

    results = {"cpu_count": os.cpu_count(), "scoring": [], "training": []}
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-scoring-") as work:
        work = pathlib.Path(args.keep or work)
        work.mkdir(parents=True, exist_ok=True)
        if sizes:
            write_rows(work / "train.csv", 20_000)
            options = ["--search-space", args.search_space] if args.search_space else []
            model = train(work / "train.csv", work / "model-runs", *options)["model"]
        for rows in sizes:
            print(f"scoring {rows:,} rows …", file=sys.stderr, flush=True)
            data = work / f"rows_{rows}.csv"
            write_rows(data, rows)
            entry = {"rows": rows, "csv_mb": round(data.stat().st_size / 1e6, 1)}
            for shards in (1, 2):
                root = work / f"r{rows}-{shards}"
                entry[f"shards_{shards}"] = score(model, data, root, shards, rows)
            data.unlink()
            results["scoring"].append(entry)
            save(results, args.out)  # each size as it ends: a long run stopped keeps the others
        for rows in args.train_sizes:
            print(f"training on {rows:,} rows …", file=sys.stderr, flush=True)
            data = work / f"train_{rows}.csv"
            write_rows(data, rows)
            entry = {"rows": rows, "table_mib": table_mib(data, rows)}
            entry.update(train(data, work / f"train-{rows}"))
            results["training"].append(entry)
            save(results, args.out)
            data.unlink()
    print_figures(results)
    save(results, args.out)
    print(f"\nJSON: {args.out}")


def save(results: dict, out: pathlib.Path) -> None:
    """Writes the figures so far as JSON."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def print_figures(results: dict) -> None:
    """Prints the scoring and training figures and the targets."""
    for entry in results["scoring"]:
        print(f"\n{entry['rows']:,} rows x 21 columns ({entry['csv_mb']} MB CSV)")
        for shards in (1, 2):
            run = entry[f"shards_{shards}"]
            peaks = ", ".join(f"{step} {mib:.0f}" for step, mib in run["peak_mib"].items())
            steps = ", ".join(f"{task} {sec:.1f}" for task, sec in run["steps_s"].items())
            print(
                f"  {shards} shard(s): {run['wall_s']:.1f} s, {run['rows_per_s']:,} rows/s; "
                f"peak MiB: {peaks}\n    steps (s): {steps}"
            )
        one, two = entry["shards_1"], entry["shards_2"]
        print(
            f"  two shards / one: {two['wall_s'] / one['wall_s']:.2f}x the time; "
            f"predictions equal: {one['sha256'] == two['sha256']}"
        )
    by_rows = {entry["rows"]: entry for entry in results["scoring"]}
    if 1_000_000 in by_rows and 10_000_000 in by_rows:
        big, small = by_rows[10_000_000], by_rows[1_000_000]
        peak = max(max(big[f"shards_{s}"]["peak_mib"].values()) for s in (1, 2))
        ratio = big["shards_1"]["wall_s"] / small["shards_1"]["wall_s"]
        print(f"\ntarget peak <= 1024 MiB a step at 10M rows: {peak:.0f} MiB")
        print(f"target time at 10M <= 10x time at 1M: {ratio:.2f}x")
    for entry in results["training"]:
        peaks = ", ".join(f"{step} {mib:.0f}" for step, mib in entry["peak_mib"].items())
        steps = ", ".join(f"{task} {sec:.1f}" for task, sec in entry["steps_s"].items())
        print(
            f"\ntraining on {entry['rows']:,} rows (table {entry['table_mib']} MiB in memory): "
            f"{entry['wall_s']:.1f} s\n  peak MiB: {peaks}\n  steps (s): {steps}"
        )


if __name__ == "__main__":
    main()
