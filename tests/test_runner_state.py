"""Runs driven straight through kfp.local leave the caller's process as it was.

KFP's local runner indents a task's output by swapping ``builtins.print`` for
the task's duration (kfp/local/logging_utils.py, ``indented_print``). Tasks run
one after another, except ParallelFor iterations, which run in threads: there
one task's restore can put back another's swap, and the caller's ``print``
stays patched. The training pipeline holds no ParallelFor; the batch-prediction
pipeline holds one, over its shards (issue 22), so the command line runs every
pipeline inside ``kfp_runner_state_restored``, which puts print back.
"""

import builtins
import logging

import pandas as pd
import yaml

from pipelines import batch_prediction_pipeline, training_pipeline
from tests.test_compiled import COMPILED

RUNS = 50


def test_only_the_shards_run_tasks_in_threads():
    allowed = {"training_pipeline.yaml": [], "batch_prediction_pipeline.yaml": ["for-loop-1"]}
    for name in ("training_pipeline.yaml", "batch_prediction_pipeline.yaml"):
        spec = next(yaml.safe_load_all((COMPILED / name).read_text()))
        dags = [spec["root"]["dag"]] + [
            component["dag"] for component in spec["components"].values() if "dag" in component
        ]
        looped = [
            task_name
            for dag in dags
            for task_name, task in dag["tasks"].items()
            if "parameterIterator" in task or "artifactIterator" in task
        ]
        assert looped == allowed[name], f"{name}: ParallelFor tasks {looped} would race on print"


def test_fifty_default_runs_leave_print_and_logging_as_they_were(local_runner, iris_csv, tmp_path):
    root = logging.getLogger()
    before = builtins.print, list(root.handlers), root.level
    new_rows = tmp_path / "rows.csv"
    pd.read_csv(iris_csv).drop(columns="species").head(20).to_csv(new_rows, index=False)
    for run in range(RUNS):
        if run % 10 == 9:  # the batch pipeline too, now and then
            outputs = training_pipeline(data_uri=str(iris_csv), target_column="species").outputs
            batch_prediction_pipeline(model_uri=outputs["model"].path, data_uri=str(new_rows))
        else:
            training_pipeline(data_uri=str(iris_csv), target_column="species")
        after = builtins.print, list(root.handlers), root.level
        assert after == before, f"run {run + 1} left the caller's print or logging changed"
