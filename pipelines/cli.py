"""Command line: run the pipelines on the KFP local runner.

    kfp-tabular train --data my.csv --target label [--any-training-pipeline-parameter …]
    kfp-tabular predict --model runs/.../train-model/model --data new.csv [--max-psi …]
    kfp-tabular check-serving --model runs/.../train-model/model --data rows.csv
    kfp-tabular submit --host URL --param data_uri=gs://… --param target_column=label
    kfp-tabular versions s3://bucket/models/churn [--name churn]
    kfp-tabular deploy --export-uri s3://bucket/models/churn --model-version previous [--apply]
    kfp-tabular demo

The options of ``train`` and ``predict`` are the pipelines' own parameters,
with the pipelines' defaults (``--help`` lists them); lists are given as JSON.

Every run goes to a folder under ``--output-dir`` (default ``runs``). The
runner's full log is written to ``<output-dir>/<command>.log``; the terminal
gets the metrics, the paths of what was written, and on failure the one-line
reason the failing step gave.

Before the first step runs, ``train`` and ``predict`` check what they were
given; nothing runs (and no output folder is made) when a check fails. The
checks: list options are JSON lists; ``--test-size`` is strictly between 0
and 1; ``--task`` and the metrics are known; each ``--search-space`` candidate
passes the model families' own validation
(``components.families.check_candidate``); and for a local ``train --data`` file, that
``--target`` is one of its columns. That file is read as the load step reads
it: whole when it is at most 64 KiB, so that any reading problem is reported
too; else only its first 64 KiB, cut at a line end, or, when that prefix alone
is unreadable, the whole file up to 50 MB (beyond, and for URIs, the load step
checks).

Exit codes and what goes to stderr:

* 0: done.
* 1: a check failed, one ``error: --option: <problem>. <fix, with an example>``
  line per problem, e.g. ``error: --search-space: not valid JSON (Expecting
  value at char 0). Give a JSON list, e.g. --search-space '[{"model": "random_forest"}, …]'``;
  or a step failed: ``error: <the step's reason> (full log: <path>)``.
* 2: argparse refused the command line (an unknown or missing option, a word
  where a number goes): its usage line and ``kfp-tabular …: error: …``.
* 130: interrupted (Ctrl-C): one ``interrupted: …`` line naming the command
  and, during a run, the unfinished step and the log.
"""

import argparse
import builtins
import contextlib
import json
import logging
import os
import pathlib
import re
import shutil
import sys
import warnings

from pipelines.option_checks import ERROR_MARK
from pipelines.progress import EXPECTED_STEPS, Progress

WARNING_MARK = "warning: "


class RunFailed(Exception):
    """A run failed, or its input failed the checks; each line of the message is one problem."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a pipeline run.

    Attributes:
        running: What was running, e.g. ``step 'train-model' of training-pipeline``.
        log_path: The runner's log.
    """

    def __init__(self, running: str, log_path: pathlib.Path):
        super().__init__(running)
        self.running = running
        self.log_path = log_path


def run_locally(
    pipeline, output_dir: pathlib.Path, log_name: str, verbose: bool, quiet=False, **arguments
):
    """Runs a pipeline on the local subprocess runner, printing a line per step.

    Args:
        pipeline: A ``@dsl.pipeline`` function.
        output_dir: Folder for the runs and the log.
        log_name: File name of the runner's log inside ``output_dir``.
        verbose: Stream the runner's whole log to the terminal instead.
        quiet: Print nothing while the run works.
        **arguments: Pipeline parameters.

    Returns:
        ``(outputs, warnings)``: the pipeline outputs, and the warnings the steps printed.

    Raises:
        RunFailed: With the failing step's own message when it gave one.
    """
    from kfp import local  # here, not at start-up: a Ctrl-C while it loads is one line too

    output_dir.mkdir(parents=True, exist_ok=True)
    log_path = output_dir / log_name
    # The steps read object-store URIs themselves (components/storage.py: local_path).
    warnings.filterwarnings("ignore", "It looks like you're using the remote file", UserWarning)
    local.init(
        local.SubprocessRunner(use_venv=False),
        pipeline_root=str(output_dir.resolve()),
        raise_on_error=True,
    )
    with open(log_path, "w", encoding="utf-8") as log, kfp_runner_state_restored():
        expected = EXPECTED_STEPS.get(pipeline.name, 1)
        stream = log if quiet else Progress(log, sys.stdout, expected)
        if verbose:
            stream = _Tee(log, sys.stdout)
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                outputs = pipeline(**arguments).outputs
        except RuntimeError as error:
            log.flush()
            reasons = _marked_lines(log_path, ERROR_MARK)
            reason = reasons[-1] if reasons else str(error).strip().splitlines()[0]
            raise RunFailed(f"{reason} (full log: {log_path})") from None
        except KeyboardInterrupt:
            log.flush()
            steps = _interrupted_steps(log_path)
            shown = ", ".join(repr(step) for step in steps)
            running = f"step{'s' * (len(steps) > 1)} {shown} of " if steps else ""
            raise Interrupted(running + pipeline.name, log_path) from None
    return outputs, _marked_lines(log_path, WARNING_MARK)


def _interrupted_steps(log_path: pathlib.Path) -> list[str]:
    """The steps the runner's log shows as started and not finished with success, in order.

    Ctrl-C reaches the running step's process too, which then fails; steps running
    in other threads (a ParallelFor) finish before the interrupt leaves the runner.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", log_path.read_text(encoding="utf-8", errors="replace"))
    started = re.findall(r"Executing task '([^']+)'", text)
    for finished in re.findall(r"Task '([^']+)' finished with status SUCCESS", text):
        if finished in started:
            started.remove(finished)
    return list(dict.fromkeys(started))


@contextlib.contextmanager
def kfp_runner_state_restored():
    """Puts back print and the root logger's handlers and level after a local run.

    KFP 2.17's runner swaps both per task (to indent and format task logs) and
    restores what it saved; when ParallelFor iterations run in threads, one can
    restore another's swap, leaving a print that indents everything or a log
    handler that writes to a closed file.
    """
    root = logging.getLogger()
    saved = builtins.print, root.handlers[:], root.level
    try:
        yield
    finally:
        builtins.print = saved[0]
        root.handlers[:] = saved[1]
        root.setLevel(saved[2])


def _marked_lines(log_path: pathlib.Path, mark: str) -> list[str]:
    """The text after ``mark`` on each log line that holds it, at its start or after spaces."""
    lines = log_path.read_text(encoding="utf-8").splitlines()
    return [line.split(mark, 1)[1].strip() for line in lines if line.strip().startswith(mark)]


def print_warnings(warnings: list[str]) -> None:
    """Prints the steps' warnings, if any."""
    for warning in warnings:
        print(f"  warning: {warning}")


class _Tee:
    """A write-only stream copying to several streams."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self):
        for stream in self.streams:
            stream.flush()


def print_metrics(metrics) -> None:
    """Prints a metrics artifact's values as a two-column table, the columns that matter after."""
    values = metrics.metadata
    for name, value in sorted(values.items()):
        if not name.startswith("importance_"):
            shown = f"{int(value)}" if name.endswith("_rows") else f"{value:.4f}"
            print(f"  {name:<20}{shown:>10}")
    ranked = sorted(
        ((value, name.removeprefix("importance_")) for name, value in values.items()
         if name.startswith("importance_")),
        reverse=True,
    )  # fmt: skip
    if ranked:
        print("Columns that matter most (drop in score when shuffled):")
        for value, column in ranked:
            print(f"  {value:>8.4f}  {column}")


def print_training_rows(model_dir: pathlib.Path, log_path: pathlib.Path) -> None:
    """Prints "Trained on N of M rows" (how a sample was drawn) and its learning curve, if any."""
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    rows, available = metadata["training_rows"], metadata.get("training_rows_available")
    line = f"Trained on {rows:,} of {available or rows:,} training rows"
    if available and rows < available:
        line += f", {metadata['training_sample']} ({metadata.get('training_bound', '')})"
    print(line)
    for curve in _marked_lines(log_path, "Learning curve ")[:1]:
        print(f"Learning curve {curve}")


def openable(report: pathlib.Path) -> pathlib.Path:
    """A copy of an HTML report artifact named ``<artifact>.html``, which a browser opens as a page.

    KFP names the artifact file after the output (``report``), with no extension,
    so a browser would show its source; the artifact itself is left as KFP wrote it.
    """
    page = report.with_name(report.name + ".html")
    shutil.copyfile(report, page)
    return page


def uri_or_path(location) -> str:
    """An object-store URI as given (steps read it through fsspec), or an absolute local path."""
    location = str(location)
    return location if "://" in location else str(pathlib.Path(location).resolve())


def train(args: argparse.Namespace) -> pathlib.Path:
    """Runs the training pipeline on a CSV and prints where things went."""
    from pipelines.compiled import load_pipeline

    training_pipeline = load_pipeline("training_pipeline")
    options = pipeline_options(args, training_pipeline)
    from pipelines.option_checks import (
        parsed_list_options,
        target_problems,
        training_option_problems,
    )

    options, problems = parsed_list_options(options, training_pipeline)
    problems += training_option_problems(options, training_pipeline)
    problems += target_problems(args.data, args.target, options)
    if problems:
        raise RunFailed("\n".join(problems))
    for name in ("baseline_model_uri", "export_uri"):
        if options.get(name):
            options[name] = uri_or_path(options[name])
    outputs, warnings = run_locally(
        training_pipeline,
        args.output_dir,
        "train.log",
        args.verbose,
        quiet=args.quiet,
        data_uri=uri_or_path(args.data),
        target_column=args.target,
        **options,
    )
    model_dir = pathlib.Path(outputs["model"].path)
    run_dir = model_dir.parent.parent
    # load_data says which task it decided, and why, on a "Task: " line of the log.
    for task in _marked_lines(args.output_dir / "train.log", "Task: ")[:1]:
        print(f"Task: {task}")
    print_training_rows(model_dir, args.output_dir / "train.log")
    print(f"Test-set metrics ({args.data}, target {args.target!r}):")
    print_metrics(outputs["metrics"])
    print_warnings(warnings)
    (decision,) = run_dir.glob("bless-model*/decision")
    print(decision.read_text(encoding="utf-8").replace("# ", "", 1).strip())
    print(f"Model:       {model_dir}")
    if options.get("export_uri") and decision.read_text().startswith("# Blessed"):
        from pipelines.model_versions import current_version_uri

        endpoint = options.get("minio_endpoint", "")
        exported = current_version_uri(options["export_uri"], endpoint) or options["export_uri"]
        print(f"Exported to: {exported}")
    print(f"Report:      {openable(run_dir / 'evaluate-model' / 'report')}")
    print(f"Validation:  {openable(run_dir / 'validate-data' / 'report')}")
    print(f"Leaderboard: {openable(run_dir / 'train-model' / 'leaderboard')}")
    return model_dir


def predict(args: argparse.Namespace) -> pathlib.Path:
    """Runs the batch-prediction pipeline and prints where the predictions went."""
    from pipelines.compiled import load_pipeline

    batch_prediction_pipeline = load_pipeline("batch_prediction_pipeline")
    options = pipeline_options(args, batch_prediction_pipeline)
    from pipelines.option_checks import parsed_list_options

    options, problems = parsed_list_options(options, batch_prediction_pipeline)
    if problems:
        raise RunFailed("\n".join(problems))
    outputs, warnings = run_locally(
        batch_prediction_pipeline,
        args.output_dir,
        "predict.log",
        args.verbose,
        quiet=args.quiet,
        model_uri=uri_or_path(args.model),
        data_uri=uri_or_path(args.data),
        **options,
    )
    predictions = outputs["predictions"]
    print(f"Predictions for {int(predictions.metadata['rows'])} rows of {args.data}:")
    for label, count in predictions.metadata.get("prediction_counts", {}).items():
        print(f"  {label:<20}{int(count):>10}")
    summary = predictions.metadata.get("prediction_summary", {})
    for name in ("min", "mean", "max"):
        if name in summary:
            print(f"  {name:<20}{summary[name]:>10.4g}")
    print_warnings(warnings)
    print(f"Predictions: {predictions.path} ({predictions.metadata.get('format', 'csv').upper()})")
    drift_report = pathlib.Path(predictions.path).parent.parent / "detect-drift" / "report"
    print(f"Drift:       {openable(drift_report)}")
    return pathlib.Path(predictions.path)


def demo(args: argparse.Namespace) -> None:
    """Trains on a dataset bundled with scikit-learn, then scores rows it never saw."""
    import pandas as pd

    from pipelines.demo_data import write_demo_data

    data, new_rows, truth = write_demo_data(args.output_dir / "data")
    print(f"Demo data: {data} (training), {new_rows} (held-out rows to score)\n")
    model_dir = train(argparse.Namespace(**vars(args), data=data, target="diagnosis"))
    print()
    predictions = predict(argparse.Namespace(**vars(args), model=model_dir, data=new_rows))
    scored = pd.read_csv(predictions)["prediction"]
    agree = (scored == pd.read_csv(truth)["diagnosis"]).mean()
    print(f"Held-out rows predicted correctly: {agree:.1%}")


def check_serving_command(args: argparse.Namespace) -> None:
    """Serves a model directory with the real MLServer and checks its answers."""
    from pipelines.serving_check import ServingCheckFailed, check_serving

    try:
        result = check_serving(args.model, args.data)
    except ServingCheckFailed as error:
        raise RunFailed(str(error)) from None
    print(
        f"MLServer, started as the ServingRuntime says, served {args.model} and answered "
        f"{result['rows']} rows of {args.data} as batch_predict does (largest difference "
        f"{result['max_abs_difference']:.2g})."
    )


def versions_command(args: argparse.Namespace) -> None:
    """Lists the model versions of an export location (pipelines/model_versions.py)."""
    from pipelines.model_versions import VersionsFailed, list_versions

    try:
        list_versions(args)
    except VersionsFailed as error:
        raise RunFailed(str(error)) from None


def deploy_command(args: argparse.Namespace) -> None:
    """Renders (and applies) the InferenceService of one version (pipelines/model_versions.py)."""
    from pipelines.model_versions import VersionsFailed, deploy_version

    try:
        deploy_version(args)
    except VersionsFailed as error:
        raise RunFailed(str(error)) from None


def submit_command(args: argparse.Namespace) -> None:
    """Compiles a pipeline and starts a run of it on a Kubeflow Pipelines cluster."""
    from pipelines import batch_prediction_pipeline, training_pipeline
    from pipelines.submit import SubmitFailed, submit

    pipeline = {"training": training_pipeline, "batch-prediction": batch_prediction_pipeline}[
        args.pipeline
    ]
    arguments = {}
    for item in args.param:
        name, equals, text = item.partition("=")
        if not equals:
            raise RunFailed(f"--param {item!r} is not NAME=VALUE.")
        spec = pipeline.component_spec.inputs.get(name)
        try:
            value = text if spec is not None and spec.type == "String" else json.loads(text)
        except json.JSONDecodeError:
            value = text
        arguments[name] = value
    try:
        run_id, url = submit(
            pipeline,
            host=args.host,
            arguments=arguments,
            experiment=args.experiment,
            run_name=args.run_name,
            namespace=args.namespace,
            token=args.token,
            cookies=args.cookies,
            service_account_token_path=args.sa_token_path,
        )
    except SubmitFailed as error:
        raise RunFailed(str(error)) from None
    print(f"Started run {run_id} of {pipeline.name}: {url}")


# The pipeline parameters the command line sets itself.
OWN_PARAMETERS = {"data_uri", "target_column", "model_uri"}
# Lists stay JSON text until parsed_list_options, which reports bad JSON in one line.
PARSERS = {"Integer": int, "Float": float, "String": str, "List": str}


def whole_numbers(value):
    """``value`` with whole floats as ints: compiled YAML stores every number as a float."""
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    return int(value) if isinstance(value, float) and value.is_integer() else value


def add_pipeline_options(parser: argparse.ArgumentParser, pipeline) -> None:
    """Adds one --option per pipeline parameter, typed and documented from the pipeline."""
    for name, spec in pipeline.component_spec.inputs.items():
        if name in OWN_PARAMETERS:
            continue
        flag = "--" + name.replace("_", "-")
        shown = (
            json.dumps(whole_numbers(spec.default)) if spec.type == "List" else repr(spec.default)
        )
        if spec.type == "Boolean":
            parser.add_argument(flag, action="store_true", default=argparse.SUPPRESS)
        else:
            parser.add_argument(
                flag,
                type=PARSERS[spec.type],
                default=argparse.SUPPRESS,
                metavar="JSON" if spec.type == "List" else spec.type.upper(),
                help=f"default: {shown}",
            )


def pipeline_options(args: argparse.Namespace, pipeline) -> dict:
    """The pipeline parameters given on the command line (the others keep their defaults)."""
    return {
        name: getattr(args, name)
        for name in pipeline.component_spec.inputs
        if name not in OWN_PARAMETERS and hasattr(args, name)
    }


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Returns the argument parser for the commands.

    Args:
        command: The command about to run: only the pipelines it runs are
            loaded for their options (None: all of them).
    """
    from pipelines.compiled import load_pipeline

    def wanted(name, *commands):
        return load_pipeline(name) if command is None or command in commands else None

    training_pipeline = wanted("training_pipeline", "train")
    batch_prediction_pipeline = wanted("batch_prediction_pipeline", "predict")

    parser = argparse.ArgumentParser(prog="kfp-tabular", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    shown = common.add_mutually_exclusive_group()
    shown.add_argument("--verbose", action="store_true", help="stream the runner's whole log")
    shown.add_argument("--quiet", action="store_true", help="print only the result")
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", parents=[common], help="train and evaluate")
    train_parser.add_argument(
        "--data", required=True, help="CSV to learn from: a path, or an s3://, gs://, minio://… URI"
    )
    train_parser.add_argument("--target", required=True, help="column holding the class")
    if training_pipeline:
        add_pipeline_options(train_parser, training_pipeline)
    train_parser.set_defaults(handler=train)

    predict_parser = commands.add_parser("predict", parents=[common], help="score a CSV")
    predict_parser.add_argument("--model", required=True, help="model directory: path or URI")
    predict_parser.add_argument("--data", required=True, help="CSV to score: path or URI")
    if batch_prediction_pipeline:
        add_pipeline_options(predict_parser, batch_prediction_pipeline)
    predict_parser.set_defaults(handler=predict)

    serving_parser = commands.add_parser(
        "check-serving", help="serve a model directory with MLServer and check its answers"
    )
    serving_parser.add_argument("--model", type=pathlib.Path, required=True, help="model directory")
    serving_parser.add_argument("--data", type=pathlib.Path, required=True, help="rows to send")
    serving_parser.set_defaults(handler=check_serving_command)

    submit_parser = commands.add_parser(
        "submit", help="compile a pipeline and start a run on a Kubeflow Pipelines cluster"
    )
    submit_parser.add_argument("--host", required=True, help="KFP API or UI URL")
    submit_parser.add_argument(
        "--pipeline", choices=["training", "batch-prediction"], default="training"
    )
    submit_parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="a pipeline parameter; VALUE is JSON where it parses (numbers, lists), else text",
    )  # fmt: skip
    submit_parser.add_argument("--namespace", default="", help="KFP namespace (multi-user)")
    submit_parser.add_argument("--experiment", default="kfp-tabular")
    submit_parser.add_argument("--run-name", default="")
    submit_parser.add_argument("--token", default="", help="bearer token")
    submit_parser.add_argument("--cookies", default="", help="e.g. authservice_session=...")
    submit_parser.add_argument(
        "--sa-token-path", default="", help="projected service account token (in a cluster)"
    )
    submit_parser.set_defaults(handler=submit_command)

    versions_parser = commands.add_parser(
        "versions", help="list the model versions of an export location, and which one serves"
    )
    versions_parser.add_argument("export_uri", help="the training pipeline's export_uri")
    versions_parser.add_argument(
        "--name", default="", help="InferenceService to ask (with kubectl) which version it serves"
    )
    versions_parser.add_argument("--namespace", default="", help="its namespace")
    versions_parser.add_argument("--minio-endpoint", default="", help="for minio:// URIs")
    versions_parser.set_defaults(handler=versions_command)

    deploy_parser = commands.add_parser(
        "deploy", help="render (or apply) the InferenceService of one version: rollout, rollback"
    )
    deploy_parser.add_argument("--export-uri", required=True, help="the training's export_uri")
    deploy_parser.add_argument(
        "--model-version", default="latest", help="a version, latest (the pointer's) or previous"
    )
    deploy_parser.add_argument("--name", default="tabular-model", help="InferenceService name")
    deploy_parser.add_argument("--namespace", default="")
    deploy_parser.add_argument("--serving-image", default="kfp-tabular-serving:0.1.0")
    deploy_parser.add_argument("--service-account", default="", help="with the store's keys")
    deploy_parser.add_argument(
        "--canary-percent", type=int, default=0, help="traffic share (KServe Serverless only)"
    )
    deploy_parser.add_argument("--minio-endpoint", default="", help="for minio:// URIs")
    deploy_parser.add_argument("--output-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    deploy_parser.add_argument(
        "--apply", action="store_true",
        help="kubectl apply the InferenceService, then point the export location at the version",
    )  # fmt: skip
    deploy_parser.set_defaults(handler=deploy_command)

    demo_parser = commands.add_parser(
        "demo", parents=[common], help="train and score a bundled dataset"
    )
    demo_parser.set_defaults(handler=demo)
    return parser


# The commands that run on the local runner and never call a Kubeflow cluster.
LOCAL_COMMANDS = ("train", "predict", "check-serving", "demo", "versions", "deploy")


def import_kfp_without_client() -> None:
    """Imports ``kfp`` without ``kfp.client``, which pulls in the kubernetes client (0.5 s).

    kfp/__init__.py imports ``kfp.client`` unless ``_KFP_RUNTIME`` is ``true``,
    as KFP sets it in every task's container (kfp/dsl/component_factory.py). It
    is set for this import only: ``kfp.dsl`` and ``kfp.local``, imported later,
    are whole. Should KFP drop the flag, ``kfp`` simply imports all of itself.
    Only for ``LOCAL_COMMANDS``: ``submit`` uses ``kfp.Client``.
    """
    if "kfp" in sys.modules:
        return
    before = os.environ.get("_KFP_RUNTIME")
    os.environ["_KFP_RUNTIME"] = "true"
    try:
        import kfp  # noqa: F401
    finally:
        if before is None:
            del os.environ["_KFP_RUNTIME"]
        else:
            os.environ["_KFP_RUNTIME"] = before


def main(argv=None) -> int:
    """Runs the command line; returns the process exit code (see the module docstring)."""
    command = "kfp-tabular"
    try:
        words = sys.argv[1:] if argv is None else argv
        first = next((w for w in words if not w.startswith("-")), None)
        if first in LOCAL_COMMANDS:
            import_kfp_without_client()
        args = build_parser(first).parse_args(argv)
        command = f"kfp-tabular {args.command}"
        args.handler(args)
    except RunFailed as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as error:
        if isinstance(error, Interrupted):
            where, log = f" during {error.running}", f" (full log: {error.log_path})"
        else:
            where, log = "", ""
        # The local runner does not cache (run_locally), so nothing half-done is reused.
        print(f"interrupted: {command}{where}; a new run starts afresh{log}", file=sys.stderr)
        return 130
    return 0
