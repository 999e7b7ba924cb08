"""Benchmark: the training pipeline against the plain script and the floor, side by side.

Usage: python -m benchmarks.run [--sizes 150 100000] [--with-1m] [--out runs/benchmark.json]

For each size it generates a 20-feature, 3-class CSV and measures, each in its
own fresh process:

* plain: the one-file script (``benchmarks/plain_script.py``), one core;
* default: ``kfp-tabular train`` with its default parameters on the KFP local
  runner, what users run (a random forest and gradient boosting compared);
* single: the same with one candidate (``--search-space '[{}]'``), the same
  forest as the plain script;
* floor: reading the CSV once and fitting that forest on every core.

It reports wall time, peak memory (largest resident set of the process and its
children), model size and model load time, the pipelines' per-step times and
test balanced accuracy, and ratios: default against the plain script, single
against the floor. The machine is noisy: compare
the ratios, and run more than once before drawing conclusions.
"""

import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

PYTHON = sys.executable
STEP_LINE = re.compile(
    r"(\d\d):(\d\d):(\d\d\.\d+) - INFO - (?:Executing task|Task) '([\w-]+)'( finished)?"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def write_data(path: pathlib.Path, rows: int) -> None:
    """Writes a numeric 20-feature, 3-class CSV with string labels."""
    import pandas as pd
    from sklearn.datasets import make_classification

    features, labels = make_classification(
        n_samples=rows, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(20)])
    frame["label"] = pd.Series(labels).map({0: "low", 1: "mid", 2: "high"})
    frame.to_csv(path, index=False)


def measure(command: list[str]) -> dict:
    """Runs a command; returns its wall time, the peak RSS of it and its children, its output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{' '.join(command)} failed: {err.read().decode()[-2000:]}")
        text = out.read().decode()
    return {"wall_s": round(wall, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "out": text}


def load_seconds(model_file: pathlib.Path, repeats: int = 3) -> float:
    """Best-of-N time of joblib.load in a fresh process, imports excluded."""
    code = (
        "import sys, time, joblib, sklearn.ensemble, sklearn.pipeline\n"
        "t = time.perf_counter(); joblib.load(sys.argv[1]); print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [PYTHON, "-c", code, str(model_file)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    ]
    return round(min(runs), 3)


def step_seconds(log_text: str) -> dict:
    """Wall time of each pipeline task, read from the local runner's log."""
    started, times = {}, {}
    for line in ANSI.sub("", log_text).splitlines():
        match = STEP_LINE.search(line)
        if not match:
            continue
        hours, minutes, seconds, task, finished = match.groups()
        stamp = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        if finished:
            times[task] = round(stamp - started[task], 3)
        else:
            started[task] = stamp
    return times


def run_pipeline(data: pathlib.Path, runs_dir: pathlib.Path, *options: str) -> dict:
    """Measures ``kfp-tabular train`` on ``data``; adds model size, load time, steps, score."""
    command = [PYTHON, "-m", "pipelines", "train", "--data", str(data), "--target", "label"]
    result = measure([*command, *options, "--output-dir", str(runs_dir)])
    del result["out"]
    (run,) = runs_dir.glob("training-pipeline-*")
    model_file = run / "train-model" / "model" / "model.joblib"
    metrics = json.loads((run / "evaluate-model" / "executor_output.json").read_text())
    accuracy = metrics["artifacts"]["metrics"]["artifacts"][0]["metadata"]["balanced_accuracy"]
    chosen = json.loads((model_file.parent / "metadata.json").read_text())["hyperparameters"]
    result.update(
        model_mb=round(model_file.stat().st_size / 1e6, 2),
        load_s=load_seconds(model_file),
        steps_s=step_seconds((runs_dir / "train.log").read_text(encoding="utf-8")),
        balanced_accuracy=round(accuracy, 4),
        model=chosen["model"],
    )
    return result


def bench_size(rows: int, work: pathlib.Path) -> dict:
    """Measures the four variants on one generated dataset."""
    data = work / f"data_{rows}.csv"
    write_data(data, rows)
    plain_model = work / f"plain_{rows}.joblib"

    plain = measure([PYTHON, "-m", "benchmarks.plain_script", str(data), "label", str(plain_model)])
    accuracy = float(re.search(r"balanced accuracy: ([\d.]+)", plain.pop("out")).group(1))
    plain.update(
        model_mb=round(plain_model.stat().st_size / 1e6, 2),
        load_s=load_seconds(plain_model),
        balanced_accuracy=accuracy,
    )
    default = run_pipeline(data, work / f"default_{rows}")
    single = run_pipeline(data, work / f"single_{rows}", "--search-space", "[{}]")
    floor = measure([PYTHON, "-m", "benchmarks.floor", str(data), "label"])
    del floor["out"]

    for result in (default, single):
        result["overhead_per_step_s"] = round(
            (result["wall_s"] - floor["wall_s"]) / max(len(result["steps_s"]), 1), 3
        )
    ratios = {
        "default_vs_plain_wall": default["wall_s"] / plain["wall_s"],
        "single_vs_floor_wall": single["wall_s"] / floor["wall_s"],
        "single_vs_plain_wall": single["wall_s"] / plain["wall_s"],
        "default_vs_plain_peak_rss": default["peak_rss_mb"] / plain["peak_rss_mb"],
        "default_vs_plain_model_size": default["model_mb"] / plain["model_mb"],
        "default_vs_plain_load_time": default["load_s"] / plain["load_s"],
    }
    return {
        "rows": rows,
        "plain": plain,
        "default": default,
        "single": single,
        "floor": floor,
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
    }


def print_table(results: list[dict]) -> None:
    """Prints the measurements and ratios, one block per size."""
    for result in results:
        print(f"\n{result['rows']:,} rows x 20 features, 3 classes")
        print(
            f"  {'':<10}{'wall s':>9}{'peak MB':>10}{'model MB':>10}{'load s':>9}{'bal. acc':>10}"
        )
        for name in ("plain", "default", "single", "floor"):
            row = result[name]
            print(
                f"  {name:<10}{row['wall_s']:>9.2f}{row['peak_rss_mb']:>10.0f}"
                f"{row.get('model_mb', float('nan')):>10.2f}{row.get('load_s', float('nan')):>9.3f}"
                f"{row.get('balanced_accuracy', float('nan')):>10.4f}"
            )
        for name in ("default", "single"):
            steps = ", ".join(f"{task} {sec:.2f}" for task, sec in result[name]["steps_s"].items())
            print(f"  {name} steps (s): {steps}; chose {result[name]['model']}")
        for name, value in result["ratios"].items():
            print(f"  {name:<32}{value:>7.2f}x")


def main() -> None:
    """Parses the command line, runs every size, prints the table and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 100_000])
    parser.add_argument("--with-1m", action="store_true", help="also 1,000,000 rows (slow)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/benchmark.json"))
    args = parser.parse_args()
    sizes = args.sizes + ([1_000_000] if args.with_1m else [])

    results = []
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-bench-") as work:
        for rows in sizes:
            print(f"benchmarking {rows:,} rows …", file=sys.stderr, flush=True)
            results.append(bench_size(rows, pathlib.Path(work)))
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpu_count": os.cpu_count(), "results": results}, indent=2))
    print(f"\nJSON: {args.out}")


if __name__ == "__main__":
    main()
