"""Benchmark: the default training pipeline at millions of rows, each step's peak against its limit.

Usage: python -m benchmarks.training_scale [--sizes 200000] [--large] [--keep FOLDER]
[--out runs/training_scale.json] [--param NAME=VALUE ...]

The table is the one of issue 32: 10 numbers (1% gaps), a 300-value text column, a 3-value
one and a binary target drawn from known probabilities, so the test ROC AUC can be set
against the generator's own (the best any model can do). ``--large`` runs 2M, 10M and 20M
rows (a CSV of 0.85 GiB at 10M; about 10 minutes a size on 2 quiet cores).

The default training pipeline runs on the KFP local runner through ``kfp-tabular train``,
with default parameters. Each step's peak memory is the high-water mark (VmHWM) of its
process, read from /proc every 0.2 s; the declared limit is the one the compiled YAML
gives the step (the light or heavy memory limit's default). It prints the wall time, each
step's peak against its limit, the rows the model was fitted on, the learning curve and
the test score, and the targets: every step's peak within its limit, 20M rows in at most
2.2x the time of 10M, 10M at most 10 minutes, the test score at 10M no worse than at 2M.
"""

import argparse
import json
import os
import pathlib
import re
import sys
import tempfile

from benchmarks.scoring import run_measured

PYTHON = sys.executable
CHUNK = 1_000_000
HEAVY = ("train-model", "evaluate-model")  # and bless-model with a baseline


def probabilities(numbers, city, tier):
    """The generator's probability of "yes" for each row (numpy arrays)."""
    import numpy as np

    weights = np.array([0.8, -0.6, 0.5, 0.4, -0.3, 0.25, 0.0, 0.0, 0.0, 0.0])
    city_effect = np.random.default_rng(7).normal(0, 0.6, 300)
    tier_effect = np.array([-0.4, 0.0, 0.5])
    clean = np.nan_to_num(numbers)
    logit = clean @ weights + 0.5 * clean[:, 0] * clean[:, 1] + np.sin(2 * clean[:, 2])
    logit += city_effect[city] + tier_effect[tier] - 0.3
    return 1 / (1 + np.exp(-logit))


def write_table(path: pathlib.Path, rows: int, seed: int = 0) -> None:
    """Writes the CSV in chunks of 1M rows, so 20M rows need no more memory than 1M."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    tiers = np.array(["bronze", "silver", "gold"])
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            numbers = rng.normal(size=(n, 10)).round(4)
            numbers[rng.random((n, 10)) < 0.01] = np.nan
            city, tier = rng.integers(0, 300, n), rng.integers(0, 3, n)
            label = rng.random(n) < probabilities(numbers, city, tier)
            frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(10)])
            frame["city"] = pd.Series(city).map("city_{:03d}".format)
            frame["tier"] = tiers[tier]
            frame["label"] = np.where(label, "yes", "no")
            frame.to_csv(handle, index=False, header=start == 0)


def oracle_auc(rows: int = 500_000, seed: int = 99) -> float:
    """The ROC AUC of the generator's own probabilities: the best a model can score."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 10))
    numbers[rng.random((rows, 10)) < 0.01] = np.nan
    city, tier = rng.integers(0, 300, rows), rng.integers(0, 3, rows)
    chance = probabilities(numbers, city, tier)
    return float(roc_auc_score(rng.random(rows) < chance, chance))


def declared_limits() -> dict:
    """Each step's declared memory limit in MiB, as the compiled training YAML gives it.

    A step's limit is a pipeline parameter there (light_memory_limit or heavy_memory_limit);
    its default is the limit a run with default parameters declares.
    """
    import yaml

    from components.memory import memory_bytes

    doc = next(yaml.safe_load_all(pathlib.Path("compiled/training_pipeline.yaml").read_text()))
    defaults = doc["root"]["inputDefinitions"]["parameters"]
    limits = {}
    for executor in doc["deploymentSpec"]["executors"].values():
        container = executor.get("container", {})
        placeholder = container.get("resources", {}).get("resourceMemoryLimit", "")
        program = container.get("args", [])
        step = program[program.index("--function_to_execute") + 1] if program else ""
        for name in ("light_memory_limit", "heavy_memory_limit"):
            if name in placeholder and step:
                size = memory_bytes(defaults[name]["defaultValue"], name) / 2**20
                # bless_model runs light without a baseline (the default), heavy with one
                limits[step] = round(min(limits.get(step, size), size))
    return limits


def train_once(data: pathlib.Path, runs: pathlib.Path, params: list[str]) -> dict:
    """``kfp-tabular train`` with default parameters (but ``params``), measured."""
    command = [PYTHON, "-m", "pipelines", "train", "--data", str(data), "--target", "label"]
    for param in params:
        name, _, value = param.partition("=")
        command += [f"--{name.replace('_', '-')}", value]
    log = runs.parent / f"{runs.name}.log"
    result = run_measured([*command, "--output-dir", str(runs)], str(runs), log)
    # The command line prints "done  <task> in <seconds> s" for each task.
    done = re.findall(r"done\s+(\S+) in ([\d.]+) s", log.read_text(errors="replace"))
    result["steps_s"] = result["steps_s"] or {task: float(sec) for task, sec in done}
    (run,) = runs.glob("training-pipeline-*")
    metadata = json.loads((run / "train-model" / "model" / "metadata.json").read_text())
    output = json.loads((run / "evaluate-model" / "executor_output.json").read_text())
    metrics = output["artifacts"]["metrics"]["artifacts"][0]["metadata"]
    result.update(
        rows_fitted=metadata["training_rows"],
        rows_available=metadata.get("training_rows_available", metadata["training_rows"]),
        sample=metadata.get("training_sample", "all rows"),
        learning_curve=metadata.get("learning_curve"),
        model=metadata["hyperparameters"]["model"],
        test_roc_auc=round(metrics["roc_auc"], 4),
    )
    return result


def main() -> None:
    """Parses the command line, runs each size, prints the figures and writes JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[200_000])
    parser.add_argument("--large", action="store_true", help="2M, 10M and 20M rows (slow)")
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("runs/training_scale.json")
    )
    parser.add_argument("--keep", type=pathlib.Path, help="work in this folder and keep the logs")
    parser.add_argument(
        "--param", action="append", default=[], help="NAME=VALUE, e.g. max_train_rows=500000"
    )
    args = parser.parse_args()
    sizes = [2_000_000, 10_000_000, 20_000_000] if args.large else args.sizes
    results = {
        "cpu_count": os.cpu_count(),
        "oracle_roc_auc": round(oracle_auc(), 4),
        "declared_mib": declared_limits(),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-training-") as work:
        work = pathlib.Path(args.keep or work)
        work.mkdir(parents=True, exist_ok=True)
        for rows in sizes:
            print(f"training on {rows:,} rows …", file=sys.stderr, flush=True)
            data = work / f"table_{rows}.csv"
            write_table(data, rows)
            entry = {"rows": rows, "csv_mb": round(data.stat().st_size / 1e6, 1)}
            entry["load_before"] = os.getloadavg()[0]
            entry.update(train_once(data, work / f"train-{rows}", args.param))
            entry["load_after"] = os.getloadavg()[0]
            data.unlink()
            results["runs"].append(entry)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    print_figures(results)
    print(f"\nJSON: {args.out}")


def print_figures(results: dict) -> None:
    """Each size: time, each step's peak against its limit, rows fitted, test score; targets."""
    declared = results["declared_mib"]
    print(f"generator's own test ROC AUC (the best possible): {results['oracle_roc_auc']}")
    for run in results["runs"]:
        print(
            f"\n{run['rows']:,} rows ({run['csv_mb']} MB CSV): {run['wall_s']:.0f} s, load "
            f"{run['load_before']:.1f}-{run['load_after']:.1f}; {run['model']} fitted on "
            f"{run['rows_fitted']:,} of {run['rows_available']:,} rows ({run['sample']}); "
            f"test ROC AUC {run['test_roc_auc']}"
        )
        print(f"  {'step':<16}{'peak MiB':>10}{'limit MiB':>11}{'seconds':>9}")
        for step, peak in sorted(run["peak_mib"].items()):
            task = step.replace("_", "-")
            seconds = run["steps_s"].get(task, run["steps_s"].get(f"{task}-2", float("nan")))
            flag = "" if peak <= declared.get(step, float("inf")) else "  OVER"
            print(f"  {step:<16}{peak:>10.0f}{declared.get(step, 0):>11}{seconds:>9.1f}{flag}")
        if run.get("learning_curve"):
            points = ", ".join(
                f"{p['score']} at {p['rows']:,}" for p in run["learning_curve"]["points"]
            )
            helps = run["learning_curve"].get("more_rows_help")
            print(f"  learning curve: {points}; more rows help: {helps}")
    by_rows = {run["rows"]: run for run in results["runs"]}
    for rows in (10_000_000, 20_000_000):
        if rows in by_rows:
            over = [
                s for s, p in by_rows[rows]["peak_mib"].items() if p > declared.get(s, float("inf"))
            ]
            print(f"target at {rows:,} rows, every step within its limit: {not over} {over or ''}")
    print(f"target no default limit above 8 GiB: {max(declared.values()) <= 8192}")
    if 10_000_000 in by_rows:
        print(f"target 10M rows <= 600 s: {by_rows[10_000_000]['wall_s']:.0f} s")
    if 10_000_000 in by_rows and 20_000_000 in by_rows:
        ratio = by_rows[20_000_000]["wall_s"] / by_rows[10_000_000]["wall_s"]
        print(f"target 20M time <= 2.2x 10M: {ratio:.2f}x")
    if 2_000_000 in by_rows and 10_000_000 in by_rows:
        small, big = by_rows[2_000_000]["test_roc_auc"], by_rows[10_000_000]["test_roc_auc"]
        print(f"target test ROC AUC at 10M ({big}) no worse than at 2M ({small}): {big >= small}")


if __name__ == "__main__":
    main()
