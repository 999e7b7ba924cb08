"""The command line: train, predict and demo on the local runner, and its one-line errors."""

import pathlib
import re

import pandas as pd

from pipelines.cli import main
from pipelines.demo_data import write_demo_data
from tests.conftest import make_messy_frame


def printed_path(text, label):
    (line,) = [line for line in text.splitlines() if line.startswith(label)]
    return pathlib.Path(line.split(label, 1)[1].split(" (")[0].strip())


def test_train_then_predict_on_a_users_csv(messy_csv, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(
        [
            "train",
            "--data",
            str(messy_csv),
            "--target",
            "churned",
            "--output-dir",
            str(runs),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Test-set metrics" in out and "balanced_accuracy" in out and "roc_auc" in out
    assert "Task: classification, for text or boolean values (2 distinct)" in out
    assert re.search(r"^Trained on ([\d,]+) of \1 training rows$", out, re.M)  # no sample
    model_dir = printed_path(out, "Model:")
    assert (model_dir / "model.joblib").is_file()
    report = printed_path(out, "Report:")
    assert report.suffix == ".html" and report.read_text().startswith("<!DOCTYPE html>")
    assert report.with_suffix("").read_text() == report.read_text()  # the artifact, as KFP wrote it
    assert "Data validation" in printed_path(out, "Validation:").read_text()
    board = printed_path(out, "Leaderboard:").read_text()
    assert "3 candidate(s) for 307 training rows, ranked by roc_auc" in board
    assert "\nBlessed\n" in out
    assert "warning: id_like: column 'customer_id' has a different value on every row" in out
    assert "Running pipeline" in (runs / "train.log").read_text()
    # Live progress: a plain line per step as it starts and ends, and each candidate scored.
    # validate-data and split-data both follow load-data; the runner may take either first.
    steps = ["importer", "load-data", "split-data", "validate-data", "train-model"]
    steps += ["evaluate-model", "bless-model", "export-model", "deploy-model"]
    starts = re.findall(r"^\[ *[\d.]+ s\] start (\S+) \((\d)/9 done\)$", out, re.M)
    ends = re.findall(r"^\[ *[\d.]+ s\] done  (\S+) in [\d.]+ s \((\d)/9 done\)$", out, re.M)
    assert [done for _, done in starts] == [str(n) for n in range(9)]
    assert [done for _, done in ends] == [str(n) for n in range(1, 10)]
    order = [step for step, _ in starts]
    assert [step for step, _ in ends] == order  # each step ends before the next starts
    assert order[:2] == steps[:2] and order[4:] == steps[4:]
    assert sorted(order[2:4]) == sorted(steps[2:4])
    assert (
        len(re.findall(r"^\[ *[\d.]+ s\]   candidate \w+ round 1: roc_auc", out, re.M))
        == 3  # the default search space: forest, boosting, linear
    )
    assert "\x1b" not in out and "\r" not in out

    # A European export (semicolons, decimal commas), with the reading options given.
    new_rows = tmp_path / "new.csv"
    frame = make_messy_frame(rows=25, seed=3).drop(columns="churned")
    frame.to_csv(new_rows, index=False, sep=";", decimal=",", encoding="cp1252")
    predict = ["predict", "--model", str(model_dir), "--data", str(new_rows)]
    reading = ["--delimiter", ";", "--decimal", ",", "--encoding", "cp1252"]
    code = main([*predict, *reading, "--output-dir", str(runs), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert not re.search(r"^\[ *[\d.]+ s\]", out, re.M)  # --quiet: only the result
    predictions = pd.read_csv(printed_path(out, "Predictions:"))
    assert "Drift" in printed_path(out, "Drift:").read_text()
    assert "warning: ignored columns the model does not use: ['customer_id']" in out
    assert len(predictions) == 25 and "prediction" in predictions.columns
    # The input columns are carried through as the user wrote them (docs/batch-scoring.md).
    written = frame["tenure_months"].dropna().map(lambda value: str(value).replace(".", ","))
    assert list(predictions["tenure_months"].dropna()) == list(written)

    # The options reach the steps: a wrong delimiter leaves one column, so features are missing.
    assert main([*predict, "--delimiter", "|", "--output-dir", str(runs)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ") and "missing feature column(s)" in line


def test_a_failing_step_prints_its_reason_in_one_line_and_exits_1(tmp_path, capsys):
    # The command line's own checks pass (see test_cli_checks.py); the load step refuses it.
    csv = tmp_path / "one_class.csv"
    pd.DataFrame({"x": range(10), "y": ["yes"] * 10}).to_csv(csv, index=False)
    code = main(["train", "--data", str(csv), "--target", "y", "--output-dir", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 1
    # stdout: the progress up to the failing step, marked as such.
    assert captured.out.splitlines()[-1].startswith("[") and "failure load-data" in captured.out
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and "target column 'y' has a single class" in line
    assert str(tmp_path / "train.log") in line


def test_demo_trains_and_scores_the_bundled_dataset(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "Held-out rows predicted correctly" in out
    share = float(out.rsplit("correctly: ", 1)[1].split("%")[0])
    assert share > 85


def test_demo_data_holds_out_unlabelled_rows(tmp_path):
    training, new_rows, truth = write_demo_data(tmp_path, held_out=0.1)
    train_frame, new_frame = pd.read_csv(training), pd.read_csv(new_rows)
    assert len(train_frame) + len(new_frame) == 569  # every row of the bundled table, once
    assert "diagnosis" not in new_frame.columns
    assert len(pd.read_csv(truth)) == len(new_frame)
    assert set(train_frame["diagnosis"]) == {"malignant", "benign"}


def test_local_commands_start_without_the_kubernetes_client_and_build_components_lazily():
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from pipelines.cli import import_kfp_without_client\n"
        "import_kfp_without_client()\n"
        "import components.shared\n"
        "from kfp import dsl, local\n"
        "assert 'kfp.client' not in sys.modules and 'kubernetes' not in sys.modules\n"
        "assert '_KFP_RUNTIME' not in os.environ  # the steps' processes get their own\n"
        "assert hasattr(dsl, 'component') and hasattr(local, 'SubprocessRunner')\n"
        "assert 'components.train_model' not in sys.modules  # not built by a helper's import\n"
        "from components import train_model\n"
        "assert train_model.component_spec.name == 'train-model'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
