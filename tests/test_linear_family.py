"""The linear family (splines on numbers) and the log target transform tried on skewed targets."""

import pathlib
import subprocess

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

from components.families import check_candidate
from components.selection import skewed
from tests.conftest import dataset
from tests.test_model_selection import train

ROOT = pathlib.Path(__file__).resolve().parent.parent


def curved_table(rows: int, seed: int) -> pd.DataFrame:
    """y rises and falls with age (an inverted U, as wages do), plus a straight effect of x."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 80, rows)
    x = rng.normal(size=rows)
    y = -((age - 45) ** 2) / 100 + x + rng.normal(scale=0.3, size=rows)
    return pd.DataFrame({"age": age, "x": x, "y": y})


def test_splines_let_the_linear_family_learn_a_curve(tmp_path):
    curved_table(400, 0).to_parquet(tmp_path / "train")
    test = curved_table(1000, 1)
    scores = {}
    for knots in (4, 0):
        folder = tmp_path / f"knots-{knots}"
        train(dataset(tmp_path / "train"), folder, [{"model": "linear", "spline_knots": knots}])
        model = joblib.load(folder / "model" / "model.joblib")
        assert type(model[-1]).__name__ == "Ridge"
        scores[knots] = r2_score(test["y"], model.predict(test[["age", "x"]]))
    assert scores[4] > 0.9 and scores[0] < 0.5  # a straight line misses the inverted U


@pytest.mark.parametrize(
    ("candidate", "task", "message"),
    [
        ({"model": "linear", "spline_knots": 1}, "regression", "0 (no splines) or at least 2"),
        ({"model": "linear", "target_transform": "sqrt"}, "regression", "'none' or 'log'"),
        ({"target_transform": "log"}, "classification", "regression only"),
    ],
)
def test_bad_linear_and_transform_settings_are_refused(candidate, task, message):
    with pytest.raises(SystemExit) as stop:
        check_candidate(candidate, task, "search_space entry 1")
    assert message in str(stop.value) and "search_space entry 1" in str(stop.value)


def test_a_skewed_target_also_tries_its_log_and_the_model_loads_without_our_code(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "z": rng.normal(size=300)})
    frame["y"] = np.exp(frame["x"] + rng.normal(scale=0.1, size=300))  # a long right tail
    assert skewed(frame["y"]) and not skewed(frame["x"]) and not skewed(-frame["y"])
    frame.to_parquet(tmp_path / "train")
    space = [{"min_samples_leaf": 5}, {"model": "linear"}]
    meta, entries, _ = train(dataset(tmp_path / "train"), tmp_path, space)
    logs = [e for e in entries if e["hyperparameters"].get("target_transform") == "log"]
    assert len(logs) == 1 and logs[0]["round"] == 1  # the best one's variant joined the round
    plain = [e for e in entries if e["model"] != "ensemble" and e not in logs]
    best = max(plain, key=lambda e: e["score"])
    assert logs[0]["hyperparameters"] == {**best["hyperparameters"], "target_transform": "log"}
    assert logs[0]["score"] is not None and logs[0]["scored_by"] == "3-fold cross-validation"

    rows = tmp_path / "rows.csv"
    frame.drop(columns="y").head(5).to_csv(rows, index=False)
    script = (
        "import joblib, pandas as pd, sys; m = joblib.load(sys.argv[1]);"
        "print(list(m.predict(pd.read_csv(sys.argv[2])).round(3)))"
    )
    python = ROOT / ".venv-serving" / "bin" / "python"
    model_file = tmp_path / "model" / "model.joblib"
    done = subprocess.run([python, "-I", "-c", script, model_file, rows], capture_output=True)
    assert done.returncode == 0, done.stderr[-2000:]
    here = joblib.load(model_file).predict(frame.drop(columns="y").head(5)).round(3)
    assert done.stdout.decode().strip() == str(list(here))
