"""Online serving keeps batch scoring's promises: MLServer started as the ServingRuntime says."""

import json
import pathlib
import re
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from components import runtime
from pipelines import batch_prediction_pipeline, training_pipeline
from pipelines.serving_check import (
    STOCK_RUNTIME,
    ServingCheckFailed,
    batch_scores,
    check_serving,
    image_files,
    post,
    rendered_runtime,
    runtime_launch,
    serve,
    v2_request,
)
from tests.conftest import make_messy_frame

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def churn_model(tmp_path_factory):
    """A 20-tree forest on the messy churn table (an ID excluded, as the pipeline does)."""
    from tests.conftest import train_on_csv

    folder = tmp_path_factory.mktemp("churn")
    make_messy_frame().to_csv(folder / "train.csv", index=False)
    model, _, _ = train_on_csv(
        folder / "train.csv", "churned", folder / "run", exclude_columns=["customer_id"]
    )
    return pathlib.Path(model.path)


@pytest.fixture(scope="module")
def server(churn_model):
    """One MLServer for the module's requests, started exactly as the ServingRuntime says."""
    with serve(churn_model) as (url, log):
        yield url, log


def one_row(**changes) -> dict:
    """A valid single-row request for the churn model, with inputs changed or dropped (None)."""
    inputs = {
        "plan": ("BYTES", ["premium"]),
        "city": ("BYTES", [None]),
        "tenure_months": ("FP64", [14.0]),
        "monthly_fee": ("BYTES", ["52.5"]),  # categorical here: "?" marks some fees
        "paperless": ("BYTES", ["yes"]),
    }
    inputs.update(changes)
    return {
        "inputs": [
            {"name": name, "datatype": kind, "shape": [len(data)], "data": data}
            for name, (kind, data) in ((n, v) for n, v in inputs.items() if v is not None)
        ]
    }


def refused(url: str, body: dict) -> tuple:
    """The status and error line of a request the server must refuse."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        post(url + "/infer", body)
    return caught.value.code, json.loads(caught.value.read())["error"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (one_row(plan=None), "'plan'"),  # a missing feature
        (one_row(tenure_months=("BYTES", ["not a number"])), "'tenure_months'"),
        (one_row(tenure_months=("FP64", [1e308])), "'tenure_months'"),
        (one_row(tenure_months=("BYTES", ["-inf"])), "'tenure_months'"),
        (one_row(monthly_fee=("FP64", [1.0, 2.0])), "monthly_fee: 2"),  # unequal lengths
        ({"inputs": []}, "one input per feature"),
        (one_row(tenure_months=("BOOL", [True])), "'tenure_months'"),  # a wrong datatype
        ({**one_row(), "outputs": [{"name": "proba"}]}, "'proba'"),  # an unknown output
        ({"inputs": [dict(i, shape=[0], data=[]) for i in one_row()["inputs"]]}, "no rows"),
    ],
)
def test_a_callers_mistake_is_a_400_in_one_line(server, body, named):
    url, log = server
    status, line = refused(url, body)
    assert status == 400
    assert named in line and "\n" not in line and "Traceback" not in line
    assert str(ROOT) not in line and ".py" not in line  # no server path
    assert re.search(r"\. (Send|Add|Fix|Replace|Ask)", line)  # says what to do


def test_a_plain_request_gets_labelled_outputs_as_batch_predict(server, churn_model, tmp_path):
    url, _ = server
    rows = make_messy_frame(rows=30, seed=11).drop(columns=["churned", "customer_id"])
    rows.loc[:3, "plan"] = "enterprise"  # unseen in training
    rows.to_csv(tmp_path / "rows.csv", index=False)
    meta = json.loads((churn_model / "metadata.json").read_text())
    answer = post(url + "/infer", v2_request(rows, meta["features"]))

    outputs = {o["name"]: o for o in answer["outputs"]}
    assert list(outputs) == ["prediction", "proba_churn", "proba_stay"]
    assert outputs["prediction"]["datatype"] == "BYTES" and outputs["proba_stay"]["shape"] == [30]
    scored, batch = batch_scores(churn_model, tmp_path / "rows.csv")
    assert outputs["prediction"]["data"] == list(scored["prediction"])
    for name in ("proba_churn", "proba_stay"):
        assert np.allclose(outputs[name]["data"], scored[name], atol=1e-9)
    # Counted as batch scoring counts them.
    for counts in ("unseen_categories", "missing_values", "unparseable_dates"):
        assert answer["parameters"][counts] == batch[counts]
    assert answer["parameters"]["unseen_categories"]["plan"] == 4
    assert answer["parameters"]["missing_values"]["tenure_months"] == 3
    # Clients of the stock runtime still get predict_proba and predict by name.
    asked = post(url + "/infer", v2_request(rows, meta["features"], "predict_proba"))
    (proba,) = asked["outputs"]
    assert proba["name"] == "predict_proba" and proba["shape"] == [30, 2]
    expected = scored[["proba_churn", "proba_stay"]].to_numpy()
    assert np.allclose(np.reshape(proba["data"], (30, 2)), expected, atol=1e-9)


def test_the_metadata_endpoint_describes_the_schema(server):
    url, _ = server
    with urllib.request.urlopen(url) as response:
        meta = json.loads(response.read())
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "plan": "BYTES", "city": "BYTES", "tenure_months": "FP64", "monthly_fee": "BYTES",
        "paperless": "BYTES",
    }  # fmt: skip
    assert meta["inputs"][0]["parameters"]["kind"] == "categorical"
    assert [o["name"] for o in meta["outputs"]] == ["prediction", "proba_churn", "proba_stay"]
    assert meta["parameters"]["classes"] == ["churn", "stay"]
    assert meta["parameters"]["task"] == "classification"


def test_a_pod_started_from_the_image_answers(churn_model, tmp_path):
    """The image's files (Dockerfile.serving's COPY and ENV), the model where KServe puts it,
    and exactly the ServingRuntime's command and environment: no setting of our own."""
    models = tmp_path / "mnt" / "models"  # the storage initializer's /mnt/models
    models.mkdir(parents=True)
    for name in ("model.joblib", "metadata.json"):
        (models / name).write_bytes((churn_model / name).read_bytes())
    env = image_files(tmp_path / "image")
    assert env == {"PYTHONPATH": str(tmp_path / "image" / "opt" / "kfp-tabular")}
    # Only kfp-free modules, all of them in the image: kfp is not in .venv-serving.
    python = ROOT / ".venv-serving" / "bin" / "python"
    script = (
        "import sys, serving.runtime; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('components', 'serving', 'kfp')))"
    )
    done = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = eval(done.stdout)  # noqa: S307 (a list of module names printed above)
    assert "kfp" not in loaded and "serving.runtime" in loaded
    ports = {"http_port": 1, "grpc_port": 2, "metrics_port": 3}
    command, launched = runtime_launch(
        runtime=rendered_runtime("churn"), model_dir=models, name="churn", ports=ports
    )
    assert command == ["mlserver", "start", str(models)]
    assert launched["MLSERVER_MODEL_IMPLEMENTATION"] == "serving.runtime.TabularModel"
    assert "MLSERVER_PARALLEL_WORKERS" in launched  # the measured setting, from the runtime
    with serve(models, name="churn") as (url, _):
        answer = post(url + "/infer", one_row())
    assert [o["name"] for o in answer["outputs"]][0] == "prediction"


def test_the_stock_sklearn_runtime_still_loads_the_model(churn_model, tmp_path):
    rows = make_messy_frame(rows=20, seed=3).drop(columns=["churned", "customer_id"])
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = check_serving(
        churn_model, tmp_path / "rows.csv", implementation=STOCK_RUNTIME, method="predict_proba"
    )
    assert result["rows"] == 20 and result["max_abs_difference"] <= 1e-9


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
    assert list(result["outputs"]["prediction"]) == list(scored["prediction"])
    counted = predictions["predictions"].metadata  # as batch scoring counts them
    assert result["parameters"]["unseen_categories"] == counted["unseen_categories"]
    assert result["parameters"]["unseen_categories"]["plan"] == 4


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
    result = check_serving(pathlib.Path(model.path), rows_csv)  # ours, against batch_predict
    assert result["rows"] == 25 and result["predictions_equal"]
    assert result["max_abs_difference"] <= 1e-9


def test_requests_carry_text_numbers_and_gaps():
    frame = pd.DataFrame({"plan": ["basic", np.nan], "fee": [12.5, np.nan]}, dtype=object)
    features = [{"name": "plan", "kind": "categorical"}, {"name": "fee", "kind": "numeric"}]
    body = v2_request(frame, features)
    assert body["parameters"] == {"content_type": "pd"} and "outputs" not in body
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
    assert "ENV PYTHONPATH=/opt/kfp-tabular" in text  # where our runtime's files are


def test_the_worker_pool_is_not_turned_off_in_any_check():
    """MLServer's worker pool is what a pod runs: no check may switch it off to start."""
    pattern = re.compile(r"parallel_workers\W+0|PARALLEL_WORKERS\W+0")
    for folder in ("tests", "pipelines", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if path.name != "test_serving.py":
                assert not pattern.search(text), path


def test_a_fault_of_the_server_is_a_500_in_a_short_line_with_the_detail_in_the_log(churn_model):
    script = """
import asyncio, sys
from mlserver.errors import MLServerError
from mlserver.settings import ModelParameters, ModelSettings
from mlserver.types import InferenceRequest
from serving.runtime import TabularModel
model = TabularModel(ModelSettings(
    name="m", implementation=TabularModel, parameters=ModelParameters(uri=sys.argv[1])))
asyncio.run(model.load())
model._model.steps[-1] = ("classifier", None)  # a broken model: scoring raises TypeError
try:
    asyncio.run(model.predict(InferenceRequest.model_validate_json(sys.argv[2])))
except MLServerError as error:
    print(error.status_code, error)
"""
    python = ROOT / ".venv-serving" / "bin" / "python"
    done = subprocess.run(
        [python, "-c", script, churn_model, json.dumps(one_row())],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    status, _, line = done.stdout.strip().partition(" ")
    assert status, done.stderr[-2000:]
    assert status == "500" and "\n" not in line and str(ROOT) not in line
    assert line.startswith("the model failed to score the request") and "log" in line
    assert "Traceback" in done.stderr  # the detail, for the operator
