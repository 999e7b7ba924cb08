"""Benchmark: what a step costs to start on a bare pod, and the training pipeline in venv mode.

Usage: python -m benchmarks.cold_start [--installers uv pip] [--components NAME ...]
       [--skip-pipeline] [--out runs/cold_start.json]

A Kubeflow pod starts from ``python:3.11.7-slim-bookworm`` with nothing installed.
For each compiled component (``compiled/components/*.yaml``) and each installer,
in a fresh empty venv with no package cache and none of this machine's pip
configuration (a pod has neither: ``PIP_CONFIG_FILE=/dev/null``,
``PIP_NO_CACHE_DIR=1``, ``UV_NO_CACHE=1``), it runs the component's own command
with the KFP program cut down to importing KFP's executor, the point where the
step's code would start, and reports:

* set-up: the seconds of that command (the install prologue, then kfp's import);
* first imports: the seconds the step's code then spends on its first imports
  (the modules ``components.runtime.step_imports`` reads in its code), with no
  byte-code written at install time, and the same imports once their byte-code
  exists: the difference is all that not byte-compiling at install costs.

``uv`` is the default prologue; ``pip`` is its fallback (``KFP_TABULAR_INSTALLER=pip``:
``pip install --no-deps --no-compile``). Then it runs the compiled training
pipeline end to end on the bundled data with ``SubprocessRunner(use_venv=True)``,
every task in a fresh venv (KFP's local runner also upgrades pip, setuptools and
wheel in each, which a pod does not), with the same pod-like settings. Targets
(issue 20): median set-up <= 8 s a step, none over 20 s; the pipeline <= 3 minutes;
nothing slower in ``.venv``, where the prologue's skip path is timed too.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPILED = ROOT / "compiled"
POD_LIKE = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1"}
UNTIL_THE_STEP = '_KFP_RUNTIME=true python3 -c "import kfp.dsl.executor_main"'


def component_command(name: str) -> list[str]:
    """The compiled component's command, its KFP program replaced by the executor's import."""
    doc = yaml.safe_load((ROOT / "compiled" / "components" / f"{name}.yaml").read_text())
    (executor,) = doc["deploymentSpec"]["executors"].values()
    command = executor["container"]["command"]
    assert command[:2] == ["sh", "-c"], f"{name}: no install prologue (image-mode YAML?)"
    return [*command[:3], "sh", "-ec", UNTIL_THE_STEP]


def fresh_venv(folder: pathlib.Path) -> dict:
    """A fresh venv (with pip, as the base image has) and the environment to run in it."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    env.update(POD_LIKE, PATH=f"{folder / 'bin'}:{env['PATH']}")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def timed(command: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    """Runs a command; returns its wall seconds and its result."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done


def cold_start(name: str, installer: str, imports: list[str]) -> dict:
    """One component's set-up and first imports in a fresh venv."""
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-cold-") as folder:
        env = fresh_venv(pathlib.Path(folder) / "venv")
        env["KFP_TABULAR_INSTALLER"] = installer
        setup, done = timed(component_command(name), env)
        if done.returncode != 0:
            raise SystemExit(f"{name} ({installer}): set-up failed:\n{done.stderr[-2000:]}")
        statement = "import " + ", ".join(imports) if imports else "pass"
        first, done = timed(["python3", "-c", statement], env)
        if done.returncode != 0:
            raise SystemExit(f"{name}: its imports failed after set-up:\n{done.stderr[-2000:]}")
        warm, _ = timed(["python3", "-c", statement], env)
        packages = subprocess.run(
            ["python3", "-m", "pip", "list", "--format=freeze"], env=env,
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
    return {
        "component": name,
        "installer": installer,
        "setup_s": round(setup, 2),
        "first_imports_s": round(first, 2),
        "warm_imports_s": round(warm, 2),
        "imports": imports,
        "installed": len([p for p in packages if not p.startswith(("pip==", "setuptools=="))]),
    }


def skip_path_ms() -> float:
    """The prologue in this environment (.venv), where every pin is present: median of 5."""
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = component_command("train_model")[:3] + ["sh", "-c", "true"]
    return round(1000 * statistics.median(timed(command, env)[0] for _ in range(5)), 1)


def runner_venv_seconds(env: dict) -> float:
    """What KFP's local runner does before each task in venv mode, and a pod does not.

    kfp/local/subprocess_task_handler.py (``environment``): a venv with pip, then
    ``pip install --upgrade pip`` and ``pip install --upgrade setuptools wheel``.
    """
    import venv

    with tempfile.TemporaryDirectory(prefix="kfp-tabular-runner-venv-") as folder:
        started = time.perf_counter()
        venv.create(folder, with_pip=True)
        python = os.path.join(folder, "bin", "python")
        for packages in (["pip"], ["setuptools", "wheel"]):
            subprocess.run(
                [python, "-m", "pip", "install", "-q", "--upgrade", *packages], env=env, check=True
            )  # fmt: skip
        return round(time.perf_counter() - started, 1)


def venv_mode_pipeline() -> dict:
    """The compiled training pipeline on the bundled data, every task in a fresh venv."""
    script = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT)!r})
from kfp import components, local
import pathlib
from pipelines.demo_data import write_demo_data
root = sys.argv[1]
data, new_rows, _ = write_demo_data(pathlib.Path(root) / "data")
local.init(local.SubprocessRunner(use_venv=True), pipeline_root=root, raise_on_error=True)
pipeline = components.load_component_from_file({str(COMPILED / "training_pipeline.yaml")!r})
started = time.perf_counter()
outputs = pipeline(data_uri=str(data), target_column="diagnosis").outputs
print("SECONDS", time.perf_counter() - started)
print("METRICS", outputs["metrics"].metadata.get("accuracy"))
scoring = components.load_component_from_file({str(COMPILED / "batch_prediction_pipeline.yaml")!r})
started = time.perf_counter()
scoring(model_uri=outputs["model"].uri, data_uri=str(new_rows))
print("SCORING", time.perf_counter() - started)
"""
    with tempfile.TemporaryDirectory(prefix="kfp-tabular-venv-mode-") as folder:
        env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
        env.update(POD_LIKE)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", script, folder], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"venv-mode pipeline failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    output = done.stdout.splitlines()
    lines = dict(line.split(" ", 1) for line in output if " " in line)
    installs = [line.strip() for line in output if "kfp-tabular: installed" in line]
    ended = next(i for i, line in enumerate(output) if line.startswith("SECONDS "))
    training_tasks = sum("kfp-tabular: installed" in line for line in output[:ended])
    return {"pipeline_s": round(float(lines["SECONDS"]), 1), "process_s": round(wall, 1),
            "scoring_s": round(float(lines["SCORING"]), 1), "accuracy": lines["METRICS"],
            "installs": installs, "training_tasks": training_tasks,
            "runner_venv_s": runner_venv_seconds(env)}  # fmt: skip


def main(argv=None) -> None:
    """Runs the benchmark and prints its figures."""
    import components
    from components.runtime import step_imports

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installers", nargs="+", default=["uv", "pip"], choices=["uv", "pip"])
    parser.add_argument("--components", nargs="+", default=None)
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "runs" / "cold_start.json")
    args = parser.parse_args(argv)
    names = args.components or sorted(
        path.stem for path in (ROOT / "compiled" / "components").glob("*.yaml")
    )
    print(f"load: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    results = []
    for installer in args.installers:
        for name in names:
            imports = sorted(step_imports(getattr(components, name).python_func))
            result = cold_start(name, installer, imports)
            results.append(result)
            print(
                f"{installer:>3} {name:<17} set-up {result['setup_s']:5.1f} s   first imports "
                f"{result['first_imports_s']:4.1f} s (byte-code present: "
                f"{result['warm_imports_s']:4.1f} s)   {result['installed']} packages",
                flush=True,
            )
        setups = [r["setup_s"] for r in results if r["installer"] == installer]
        print(
            f"{installer:>3} set-up a step: median {statistics.median(setups):.1f} s, "
            f"max {max(setups):.1f} s, total {sum(setups):.1f} s over {len(setups)} components",
            flush=True,
        )
    summary = {"load": os.getloadavg(), "steps": results, "skip_path_ms": skip_path_ms()}
    print(f"skip path in .venv (every pin present): {summary['skip_path_ms']} ms")
    if not args.skip_pipeline:
        mode = summary["venv_mode"] = venv_mode_pipeline()
        runner = mode["training_tasks"] * mode["runner_venv_s"]
        print(
            f"training pipeline, venv mode, bundled data: {mode['pipeline_s']} s (test accuracy "
            f"{mode['accuracy']}), {mode['training_tasks']} tasks; batch prediction pipeline "
            f"{mode['scoring_s']} s. Of the training pipeline's time, the runner's own venv "
            f"preparation, which a pod does not do: ~{mode['runner_venv_s']} s a task, "
            f"~{runner:.0f} s; the rest, ~{mode['pipeline_s'] - runner:.0f} s, pods would spend"
        )
    print(f"load: {os.getloadavg()[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"figures written to {args.out}")


if __name__ == "__main__":
    main()
