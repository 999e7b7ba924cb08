"""The command line's checks before the first step, and Ctrl-C: one stderr line each.

No pipeline runs here: ``run_locally`` is replaced by a stand-in that fails the
test when a check should have stopped the command, or records its arguments.
"""

import pandas as pd
import pytest
from kfp.local import logging_utils

import pipelines.cli as cli
import pipelines.option_checks as option_checks
from components.families import check_candidate
from pipelines import batch_prediction_pipeline
from pipelines.cli import main


@pytest.fixture
def no_run(monkeypatch):
    """Fails the test if a pipeline would run."""

    def run_locally(*args, **kwargs):
        pytest.fail("a pipeline ran although a check should have stopped the command")

    monkeypatch.setattr(cli, "run_locally", run_locally)


@pytest.fixture
def recorded_run(monkeypatch):
    """Records the arguments of the pipeline run, then stops the command (exit code 1)."""
    calls = []

    def run_locally(pipeline, output_dir, log_name, verbose, **arguments):
        calls.append(arguments)
        raise cli.RunFailed("stopped by the test after recording the run")

    monkeypatch.setattr(cli, "run_locally", run_locally)
    return calls


def train(csv, *options, target="species", output_dir):
    return main(
        ["train", "--data", str(csv), "--target", target, "--output-dir", str(output_dir), *options]
    )


def only_error_line(capsys) -> str:
    """The single stderr line; nothing on stdout."""
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    return line


def model_says(candidate, number, task="auto") -> str:
    """check_candidate's own message for candidate ``number``, as the CLI prints it."""
    with pytest.raises(SystemExit) as stop:
        check_candidate(candidate, task, f"--search-space candidate {number}")
    return "error: " + str(stop.value).removeprefix("kfp-tabular error: ")


def test_invalid_json_in_a_list_option_is_one_line(iris_csv, tmp_path, capsys, no_run):
    runs = tmp_path / "runs"
    assert train(iris_csv, "--search-space", "x", output_dir=runs) == 1
    assert only_error_line(capsys) == (
        "error: --search-space: not valid JSON (Expecting value at char 0). "
        """Give a JSON list, e.g. --search-space '[{"model": "random_forest"}, {"model": "hist_gradient_boosting"}]'"""  # noqa: E501
    )
    assert train(iris_csv, "--fail-on", "leak", output_dir=runs) == 1
    assert only_error_line(capsys) == (
        "error: --fail-on: not valid JSON (Expecting value at char 0). "
        """Give a JSON list, e.g. --fail-on '["leak", "constant"]'"""
    )
    assert not runs.exists()


def test_json_that_is_not_a_list_is_one_line(iris_csv, tmp_path, capsys, no_run):
    assert train(iris_csv, "--search-space", '{"max_depth": 8}', output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        """error: --search-space: '{"max_depth": 8}' is a JSON object, not a list. """
        """Give a JSON list, e.g. --search-space '[{"model": "random_forest"}, {"model": "hist_gradient_boosting"}]'"""  # noqa: E501
    )
    assert train(iris_csv, "--fail-on", '"leak"', output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        """error: --fail-on: '"leak"' is a JSON string, not a list. """
        """Give a JSON list, e.g. --fail-on '["leak", "constant"]'"""
    )


@pytest.mark.parametrize("size, shown", [("0", "0.0"), ("1", "1.0"), ("-0.5", "-0.5")])
def test_test_size_outside_0_1_is_refused(iris_csv, tmp_path, capsys, no_run, size, shown):
    assert train(iris_csv, f"--test-size={size}", output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        "error: --test-size: must be strictly between 0 and 1 (the share of rows held out for "
        f"evaluation), got {shown}. Use e.g. --test-size 0.2"
    )


def test_rollout_options_out_of_range_are_refused(iris_csv, tmp_path, capsys, no_run):
    options = ["--canary-percent", "100", "--keep-versions", "-1"]
    assert train(iris_csv, *options, output_dir=tmp_path) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: --canary-percent: must be 0 (a full rollout) to 99, the share of traffic the new "
        "version gets, got 100. Use e.g. --canary-percent 10",
        "error: --keep-versions: must be 0 (keep all) or more, got -1. Use e.g. --keep-versions 10",
    ]


def test_each_problem_gets_its_own_line(iris_csv, tmp_path, capsys, no_run):
    options = ["--task", "guess", "--test-size", "2"]
    assert train(iris_csv, *options, output_dir=tmp_path) == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1] for line in lines] == [" --test-size", " --task"]


def test_a_bad_search_space_candidate_is_named_by_number(iris_csv, tmp_path, capsys, no_run):
    space = '[{}, {"depth": 8}, {"max_features": 2}, 5, {"model": "xgboost"}]'
    assert train(iris_csv, "--search-space", space, output_dir=tmp_path) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        model_says({"depth": 8}, 2),
        model_says({"max_features": 2}, 3),
        model_says(5, 4),
        model_says({"model": "xgboost"}, 5),
    ]
    assert lines[0].startswith("error: --search-space candidate 2: ")
    assert "['depth'] do not apply to random_forest" in lines[0]
    assert "not a dict" in lines[2] and "is not one of ['random_forest'" in lines[3]


def test_a_candidate_for_the_other_task_is_refused_when_the_task_is_given(
    iris_csv, tmp_path, capsys, no_run
):
    space = '[{"model": "ridge"}]'  # with --task auto, left to the run, which knows the task
    options = ["--task", "classification", "--search-space", space]
    assert train(iris_csv, *options, output_dir=tmp_path) == 1
    line = only_error_line(capsys)
    assert line == model_says({"model": "ridge"}, 1, "classification")
    assert "ridge is for regression only; for classification use logistic_regression" in line


def test_valid_options_reach_the_run(iris_csv, tmp_path, capsys, recorded_run):
    space = '[{}, {"model": "extra_trees", "max_depth": 8}]'
    options = ["--search-space", space, "--fail-on", '["leak"]', "--test-size", "0.3"]
    assert train(iris_csv, *options, output_dir=tmp_path) == 1
    assert capsys.readouterr().err == "error: stopped by the test after recording the run\n"
    (arguments,) = recorded_run
    assert arguments["search_space"] == [{}, {"model": "extra_trees", "max_depth": 8}]
    assert arguments["fail_on"] == ["leak"]
    assert arguments["test_size"] == 0.3 and arguments["target_column"] == "species"


def test_a_target_that_is_not_a_column_lists_the_columns(iris_csv, tmp_path, capsys, no_run):
    assert train(iris_csv, target="label", output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        f"error: --target: column 'label' not found in {iris_csv}; its columns are "
        "['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', 'petal width (cm)', "
        "'species']. Set --target to one of them."
    )


@pytest.mark.parametrize("target", ["Species", " species", "SPECIES "])
def test_a_target_differing_by_case_or_spaces_gets_a_suggestion(
    iris_csv, tmp_path, capsys, no_run, target
):
    assert train(iris_csv, target=target, output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        f"error: --target: column {target!r} not found in {iris_csv}; did you mean 'species'? "
        "(Its columns are ['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', "
        "'petal width (cm)', 'species'].)"
    )


def test_a_wide_file_lists_its_first_20_columns(tmp_path, capsys, no_run):
    csv = tmp_path / "wide.csv"
    pd.DataFrame({f"c{i}": [1, 2] for i in range(30)}).to_csv(csv, index=False)
    assert train(csv, target="C29", output_dir=tmp_path) == 1
    line = only_error_line(capsys)
    assert "did you mean 'c29'? (The first 20 of its 30 columns are ['c0', 'c1'," in line
    assert "'c19'].)" in line and "'c20'" not in line.split("? ")[1]


def test_a_single_column_suggests_the_delimiter(tmp_path, capsys, no_run):
    csv = tmp_path / "semicolons.csv"
    csv.write_text("a;b;label\n1;2;x\n3;4;y\n")
    assert train(csv, "--delimiter", ",", target="label", output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        f"error: --target: column 'label' not found in {csv}; its columns are ['a;b;label']. "
        "Set --target to one of them. Only one column was found: is the delimiter ',' right? "
        "Set it with --delimiter, e.g. --delimiter ';'"
    )


def test_a_large_file_is_checked_from_its_first_lines(iris_csv, tmp_path, capsys, no_run):
    big = tmp_path / "big.csv"
    frame = pd.read_csv(iris_csv)
    pd.concat([frame] * 300).to_csv(big, index=False)
    assert big.stat().st_size > option_checks.HEADER_BYTES
    assert train(big, target="Species", output_dir=tmp_path) == 1
    assert "did you mean 'species'?" in only_error_line(capsys)


def test_a_large_file_whose_first_lines_are_unreadable_is_read_whole(tmp_path, capsys, no_run):
    # The prefix holds only the header (the first row is longer than it): read it all.
    csv = tmp_path / "long_row.csv"
    pd.DataFrame({"note": ["x" * 70_000, "y", "z"], "Label": ["a", "b", "a"]}).to_csv(
        csv, index=False
    )
    assert train(csv, target="label", output_dir=tmp_path) == 1
    assert "did you mean 'Label'?" in only_error_line(capsys)


def test_a_missing_data_file_is_reported_before_the_run(tmp_path, capsys, no_run):
    missing = tmp_path / "missing.csv"
    assert train(missing, output_dir=tmp_path) == 1
    assert only_error_line(capsys) == (
        f"error: --data: {missing}: file not found. Check the data URI or path."
    )


def test_a_uri_is_left_to_the_load_step(tmp_path, capsys, recorded_run):
    assert train("s3://bucket/data.csv", target="whatever", output_dir=tmp_path) == 1
    (arguments,) = recorded_run
    assert arguments["data_uri"] == "s3://bucket/data.csv"


def test_predict_takes_the_reading_options(tmp_path, recorded_run):
    model, data = tmp_path / "model", tmp_path / "rows.csv"
    reading = ["--delimiter", ";", "--decimal", ",", "--encoding", "latin-1"]
    assert main(["predict", "--model", str(model), "--data", str(data), *reading]) == 1
    (arguments,) = recorded_run
    assert (arguments["delimiter"], arguments["decimal"], arguments["encoding"]) == (
        ";",
        ",",
        "latin-1",
    )


def test_batch_prediction_pipeline_passes_the_reading_options_to_every_reading_step():
    inputs = batch_prediction_pipeline.component_spec.inputs
    spec = batch_prediction_pipeline.pipeline_spec
    tasks = spec.root.dag.tasks
    shard = spec.components["comp-for-loop-1"].dag.tasks["batch-predict"]  # in the ParallelFor
    for name in ("delimiter", "decimal", "encoding"):
        assert inputs[name].default == "auto"
        for task in ("detect-drift", "plan-shards"):
            assert tasks[task].inputs.parameters[name].component_input_parameter == name
        assert shard.inputs.parameters[name].component_input_parameter == f"pipelinechannel--{name}"


def test_ctrl_c_prints_one_line_and_exits_130(iris_csv, tmp_path, capsys, monkeypatch):
    def run_locally(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_locally", run_locally)
    assert train(iris_csv, output_dir=tmp_path) == 130
    assert only_error_line(capsys) == "interrupted: kfp-tabular train; a new run starts afresh"


class StoppedPipeline:
    """Stands in for a pipeline: logs as KFP's runner does, then Ctrl-C during 'train-model'."""

    name = "training-pipeline"

    def __call__(self, **arguments):
        for line in (
            f"Executing task {logging_utils.format_task_name('load-data')}",
            f"Task {logging_utils.format_task_name('load-data')} finished with status "
            f"{logging_utils.color_text('SUCCESS', logging_utils.Color.GREEN)}",
            f"Executing task {logging_utils.format_task_name('train-model')}",
        ):
            print(line)
        raise KeyboardInterrupt


def test_ctrl_c_during_a_run_names_the_unfinished_step(iris_csv, tmp_path, capsys, monkeypatch):
    real_run_locally = cli.run_locally

    def run_locally(pipeline, output_dir, log_name, verbose, **arguments):
        return real_run_locally(StoppedPipeline(), output_dir, log_name, verbose)

    monkeypatch.setattr(cli, "run_locally", run_locally)
    assert train(iris_csv, output_dir=tmp_path) == 130
    captured = capsys.readouterr()
    assert "start train-model" in captured.out.splitlines()[-1]  # the progress so far
    (line,) = captured.err.splitlines()
    assert line == (
        "interrupted: kfp-tabular train during step 'train-model' of training-pipeline; "
        f"a new run starts afresh (full log: {tmp_path / 'train.log'})"
    )


def test_a_misspelt_task_or_metric_is_refused_before_the_run(iris_csv, tmp_path, capsys, no_run):
    code = main(
        ["train", "--data", str(iris_csv), "--target", "species", "--task", "regresion",
         "--selection-metric", "r3", "--output-dir", str(tmp_path / "runs")]
    )  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert err[0] == (
        "error: --task: must be auto, classification or regression, got 'regresion'. "
        "Use e.g. --task regression"
    )
    assert err[1].startswith("error: --selection-metric: 'r3' is not a metric; use auto or one of")


def test_bad_memory_settings_are_refused_before_the_run(iris_csv, tmp_path, capsys, no_run):
    options = ["--heavy-memory-limit", "8 GB", "--light-memory-request", "6G"]
    options += ["--max-train-rows", "lots"]
    assert train(iris_csv, *options, output_dir=tmp_path) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: --light-memory-request 6G is more than --light-memory-limit 4G: Kubernetes "
        "refuses a pod whose memory request passes its limit. Lower --light-memory-request or "
        "raise --light-memory-limit.",
        "error: --heavy-memory-limit='8 GB' is not a memory quantity: write a number of bytes or "
        "one with a suffix, e.g. 8G (8 x 1000^3 bytes) or 7629Mi (7629 x 1024^2).",
        "error: --max-train-rows='lots' is neither auto (the rows memory holds) nor a row count. "
        "Use e.g. --max-train-rows auto",
    ]
