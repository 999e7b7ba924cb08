"""Command line: run the pipelines on the KFP local runner.

    kfp-tabular train --data my.csv --target label [options]
    kfp-tabular predict --model runs/.../train-model/model --data new.csv
    kfp-tabular demo

Every run goes to a folder under ``--output-dir`` (default ``runs``). The
runner's full log is written to ``<output-dir>/<command>.log``; the terminal
gets the metrics, the paths of what was written, and on failure the one-line
reason the failing step gave.
"""

import argparse
import contextlib
import pathlib
import sys

from kfp import local

ERROR_MARK = "kfp-tabular error: "
WARNING_MARK = "warning: "


class RunFailed(Exception):
    """A pipeline run failed; the message says why in one line."""


def run_locally(pipeline, output_dir: pathlib.Path, log_name: str, verbose: bool, **arguments):
    """Runs a pipeline on the local subprocess runner.

    Args:
        pipeline: A ``@dsl.pipeline`` function.
        output_dir: Folder for the runs and the log.
        log_name: File name of the runner's log inside ``output_dir``.
        verbose: Also stream the runner's log to the terminal.
        **arguments: Pipeline parameters.

    Returns:
        ``(outputs, warnings)``: the pipeline outputs, and the warnings the steps printed.

    Raises:
        RunFailed: With the failing step's own message when it gave one.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    log_path = output_dir / log_name
    local.init(
        local.SubprocessRunner(use_venv=False),
        pipeline_root=str(output_dir.resolve()),
        raise_on_error=True,
    )
    with open(log_path, "w", encoding="utf-8") as log:
        stream = _Tee(log, sys.stdout) if verbose else log
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                outputs = pipeline(**arguments).outputs
        except RuntimeError as error:
            log.flush()
            reasons = _marked_lines(log_path, ERROR_MARK)
            reason = reasons[-1] if reasons else str(error).strip().splitlines()[0]
            raise RunFailed(f"{reason} (full log: {log_path})") from None
    return outputs, _marked_lines(log_path, WARNING_MARK)


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
    """Prints a metrics artifact's values as a two-column table."""
    for name, value in sorted(metrics.metadata.items()):
        shown = f"{int(value)}" if name.endswith("_rows") else f"{value:.4f}"
        print(f"  {name:<20}{shown:>10}")


def train(args: argparse.Namespace) -> pathlib.Path:
    """Runs the training pipeline on a CSV and prints where things went."""
    from pipelines import training_pipeline

    outputs, warnings = run_locally(
        training_pipeline,
        args.output_dir,
        "train.log",
        args.verbose,
        data_uri=str(args.data.resolve()),
        target_column=args.target,
        test_size=args.test_size,
        random_state=args.random_state,
        n_estimators=args.n_estimators,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        class_weight=args.class_weight,
        keep_id_columns=args.keep_id_columns,
        fail_on=args.fail_on,
        delimiter=args.delimiter,
        decimal=args.decimal,
        encoding=args.encoding,
    )
    model_dir = pathlib.Path(outputs["model"].path)
    run_dir = model_dir.parent.parent
    print(f"Test-set metrics ({args.data}, target {args.target!r}):")
    print_metrics(outputs["metrics"])
    print_warnings(warnings)
    print(f"Model:       {model_dir}")
    print(f"Report:      {run_dir / 'evaluate-model' / 'report'} (HTML)")
    print(f"Validation:  {run_dir / 'validate-data' / 'report'} (HTML)")
    return model_dir


def predict(args: argparse.Namespace) -> pathlib.Path:
    """Runs the batch-prediction pipeline and prints where the predictions went."""
    from pipelines import batch_prediction_pipeline

    outputs, warnings = run_locally(
        batch_prediction_pipeline,
        args.output_dir,
        "predict.log",
        args.verbose,
        model_uri=str(args.model.resolve()),
        data_uri=str(args.data.resolve()),
        max_psi=args.max_psi,
        max_new_category_share=args.max_new_category_share,
    )
    predictions = outputs["predictions"]
    print(f"Predictions for {int(predictions.metadata['rows'])} rows of {args.data}:")
    for label, count in predictions.metadata["prediction_counts"].items():
        print(f"  {label:<20}{int(count):>10}")
    print_warnings(warnings)
    print(f"Predictions: {predictions.path} (CSV)")
    drift_report = pathlib.Path(predictions.path).parent.parent / "detect-drift" / "report"
    print(f"Drift:       {drift_report} (HTML)")
    return pathlib.Path(predictions.path)


def demo(args: argparse.Namespace) -> None:
    """Trains on a dataset bundled with scikit-learn, then scores rows it never saw."""
    from pipelines.demo_data import write_demo_data

    data, new_rows, truth = write_demo_data(args.output_dir / "data")
    print(f"Demo data: {data} (training), {new_rows} (held-out rows to score)\n")
    train_args = argparse.Namespace(
        **{**DEFAULTS, **vars(args), "data": data, "target": "diagnosis"}
    )
    model_dir = train(train_args)
    print()
    predictions = predict(
        argparse.Namespace(
            **{**PREDICT_DEFAULTS, **vars(args), "model": model_dir, "data": new_rows}
        )
    )
    import pandas as pd

    scored = pd.read_csv(predictions)["prediction"]
    agree = (scored == pd.read_csv(truth)["diagnosis"]).mean()
    print(f"Held-out rows predicted correctly: {agree:.1%}")


PREDICT_DEFAULTS = {"max_psi": 0.0, "max_new_category_share": 0.0}
DEFAULTS = {
    "test_size": 0.2,
    "random_state": 42,
    "n_estimators": 100,
    "max_depth": 0,
    "min_samples_leaf": 1,
    "class_weight": "none",
    "keep_id_columns": False,
    "fail_on": [],
    "delimiter": "auto",
    "decimal": "auto",
    "encoding": "auto",
}


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser for the three commands."""
    parser = argparse.ArgumentParser(prog="kfp-tabular", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output-dir", type=pathlib.Path, default=pathlib.Path("runs"))
    common.add_argument("--verbose", action="store_true", help="stream the runner's log")
    commands = parser.add_subparsers(dest="command", required=True)

    train_parser = commands.add_parser("train", parents=[common], help="train and evaluate")
    train_parser.add_argument("--data", type=pathlib.Path, required=True, help="CSV to learn from")
    train_parser.add_argument("--target", required=True, help="column holding the class")
    for name, default in DEFAULTS.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, bool):
            train_parser.add_argument(flag, action="store_true")
        elif isinstance(default, list):
            train_parser.add_argument(flag, nargs="+", default=default, metavar="KIND")
        else:
            train_parser.add_argument(
                flag, type=type(default), default=default, help="default: %(default)s"
            )
    train_parser.set_defaults(handler=train)

    predict_parser = commands.add_parser("predict", parents=[common], help="score a CSV")
    predict_parser.add_argument("--model", type=pathlib.Path, required=True, help="model directory")
    predict_parser.add_argument("--data", type=pathlib.Path, required=True, help="CSV to score")
    for name, default in PREDICT_DEFAULTS.items():
        flag = "--" + name.replace("_", "-")
        predict_parser.add_argument(flag, type=float, default=default, help="0: never stop")
    predict_parser.set_defaults(handler=predict)

    demo_parser = commands.add_parser(
        "demo", parents=[common], help="train and score a bundled dataset"
    )
    demo_parser.set_defaults(handler=demo)
    return parser


def main(argv=None) -> int:
    """Runs the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except RunFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
