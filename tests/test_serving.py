"""The real MLServer serves a model trained by our pipeline, and answers like batch_predict."""

import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from components import runtime
from pipelines import batch_prediction_pipeline, training_pipeline
from pipelines.serving_check import ServingCheckFailed, check_serving, v2_request
from tests.conftest import make_messy_frame

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_mlserver_answers_like_batch_predict(local_runner, messy_csv, tmp_path):
    model = training_pipeline(
        data_uri=str(messy_csv), target_column="churned", search_space=[{}]
    ).outputs["model"]
    rows = make_messy_frame(rows=40, seed=11).drop(columns="churned")
    rows.loc[:3, "plan"] = "enterprise"  # unseen in training
    rows_csv = tmp_path / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    predictions = batch_prediction_pipeline(model_uri=model.path, data_uri=str(rows_csv)).outputs
    scored = pd.read_csv(predictions["predictions"].path)

    result = check_serving(pathlib.Path(model.path), rows_csv)  # starts the real MLServer

    classes = model.metadata["classes"]
    expected = scored[[f"proba_{label}" for label in classes]].to_numpy()
    assert result["rows"] == 40
    assert np.allclose(result["served"], expected, atol=1e-9)
    served_classes = np.asarray(classes)[result["served"].argmax(axis=1)]
    assert (served_classes == scored["prediction"]).all()


@pytest.mark.parametrize(
    ("family", "target"),
    [
        ("extra_trees", "churned"),
        ("hist_gradient_boosting", "churned"),
        ("logistic_regression", "churned"),
        ("linear", "churned"),
        # Ridge on splines, fitted on log(1 + price): a TransformedTargetRegressor inside.
        ({"model": "linear", "target_transform": "log"}, "price"),
    ],
)
def test_mlserver_serves_every_model_family(tmp_path, family, target):
    from tests.conftest import make_messy_regression_frame, train_on_csv

    frame = make_messy_frame() if target == "churned" else make_messy_regression_frame()
    frame.to_csv(tmp_path / "train.csv", index=False)
    model, _, _ = train_on_csv(
        tmp_path / "train.csv", target, tmp_path / "run",
        search_space=[family if isinstance(family, dict) else {"model": family}],
    )  # fmt: skip
    rows_csv = tmp_path / "rows.csv"
    frame.drop(columns=target).head(25).to_csv(rows_csv, index=False)
    result = check_serving(pathlib.Path(model.path), rows_csv)  # the real MLServer
    assert result["rows"] == 25 and result["predictions_equal"]
    assert result["max_abs_difference"] <= 1e-9


def test_requests_carry_text_numbers_and_gaps():
    frame = pd.DataFrame({"plan": ["basic", np.nan], "fee": [12.5, np.nan]}, dtype=object)
    features = [{"name": "plan", "kind": "categorical"}, {"name": "fee", "kind": "numeric"}]
    body = v2_request(frame, features)
    assert body["parameters"] == {"content_type": "pd"}
    assert body["inputs"] == [
        {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["basic", None]},
        {"name": "fee", "shape": [2], "datatype": "FP64", "data": [12.5, None]},
    ]


def test_a_missing_serving_environment_is_named(tmp_path):
    with pytest.raises(ServingCheckFailed, match="run `make serving-env` first"):
        check_serving(tmp_path, tmp_path / "rows.csv", mlserver=tmp_path / "nope" / "mlserver")


def test_the_serving_environment_runs_our_versions():
    serving = dict(
        line.split("==")
        for line in (ROOT / "requirements-serving.txt").read_text().split()
        if "==" in line
    )
    # The packages the model needs are there, and every runtime pin it holds is ours.
    assert {"scikit-learn", "numpy", "scipy", "joblib", "pandas", "threadpoolctl"} <= set(serving)
    for pin in runtime.RUNTIME_PINS:
        name, _, pinned = pin.partition("==")
        assert serving.get(name, pinned) == pinned, name
    assert serving["mlserver"] == serving["mlserver-sklearn"] == "1.7.1"


def test_the_serving_image_installs_exactly_the_serving_environment():
    text = (ROOT / "Dockerfile.serving").read_text()
    assert re.search(r"^FROM (\S+)$", text, re.MULTILINE).group(1) == runtime.BASE_IMAGE
    (install,) = re.findall(r"^RUN .*pip install.*$", text, re.MULTILINE)
    assert "--no-deps -r /tmp/requirements-serving.txt" in install  # the full closure, no more
    assert "COPY requirements-serving.txt /tmp/requirements-serving.txt" in text
    assert re.search(r"^USER \d+$", text, re.MULTILINE)  # KServe's runAsNonRoot
    assert 'CMD ["mlserver", "start", "/mnt/models"]' in text
