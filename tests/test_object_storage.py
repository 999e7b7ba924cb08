"""The cluster contract on loopback: a real S3 API server, KServe's storage code, MLServer.

moto runs a real S3 API server on 127.0.0.1 (as s3fs tests itself). The
pipelines read from it and export to it through fsspec, exactly as the steps do
on a pod. KServe's own storage initializer (kserve-storage, in
.venv-kserve-storage) then downloads the export, and MLServer starts on that
download with the command and environment of the ServingRuntime deploy_model
rendered, and must answer as batch_predict does.
"""

import json
import os
import pathlib
import re
import urllib.request

import numpy as np
import pandas as pd
import pytest
import yaml
from kfp.dsl import Model

from components import export_model
from components.storage import local_path, object_store
from pipelines import batch_prediction_pipeline, training_pipeline
from pipelines.serving_check import check_serving
from tests.conftest import kserve_download, make_messy_frame


@pytest.fixture
def s3(s3_server):
    """The module's S3 API server, emptied, with the buckets the tests use."""
    # moto keeps its buckets in the process: start each test from none.
    urllib.request.urlopen(urllib.request.Request(f"{s3_server}/moto-api/reset", method="POST"))
    filesystem, _ = object_store("s3://any")
    for bucket in ("data", "models", "mlpipeline"):
        filesystem.mkdir(bucket)
    return filesystem, s3_server


def rendered(pipeline_root: pathlib.Path) -> dict:
    """The manifests the run's deploy_model step rendered, by file name."""
    (folder,) = pipeline_root.glob("**/deploy-model*/manifest")
    return {path.name: yaml.safe_load(path.read_text()) for path in folder.iterdir()}


def test_export_to_s3_is_fetched_by_kserve_and_served_like_batch_predict(
    local_runner, s3, tmp_path
):
    filesystem, endpoint = s3
    filesystem.pipe("data/customers.csv", make_messy_frame().to_csv(index=False).encode())
    rows = make_messy_frame(rows=40, seed=11).drop(columns="churned")
    rows.loc[:3, "plan"] = "enterprise"  # unseen in training
    filesystem.pipe("data/rows.csv", rows.to_csv(index=False).encode())

    trained = training_pipeline(
        data_uri="s3://data/customers.csv",
        target_column="churned",
        search_space=[{}],
        export_uri="s3://models/churn",
        serving_name="churn",
    ).outputs

    # The model is in the bucket as one complete version, with the pointer naming it,
    # and nothing written through KFP's pod scratch paths.
    filesystem.invalidate_cache()
    assert sorted(filesystem.ls("models")) == ["models/churn"]
    (version,) = [p.rsplit("/", 1)[1] for p in filesystem.ls("models/churn") if "pointer" not in p]
    assert sorted(filesystem.ls(f"models/churn/{version}")) == [
        f"models/churn/{version}/{name}"
        for name in ("VERSION.json", "metadata.json", "model-registry.json", "model.joblib")
    ]
    exported = json.loads(filesystem.cat(f"models/churn/{version}/metadata.json"))
    assert exported["sha256"] == trained["model"].metadata["sha256"]
    described = json.loads(filesystem.cat(f"models/churn/{version}/VERSION.json"))
    assert described["data_uri"] == "s3://data/customers.csv" and described["run"]["name"]
    for scratch in ("/s3", "/minio", "/gcs"):
        assert not pathlib.Path(scratch).exists(), scratch

    # KServe's storage initializer fetches the storageUri deploy_model rendered: the version.
    manifests = rendered(local_runner)
    storage_uri = manifests["inferenceservice.yaml"]["spec"]["predictor"]["model"]["storageUri"]
    assert storage_uri == f"s3://models/churn/{version}/"
    download = tmp_path / "mnt-models"
    env = {**os.environ, "S3_VERIFY_SSL": "0"}
    assert kserve_download(storage_uri, download, env) == [
        "VERSION.json", "metadata.json", "model-registry.json", "model.joblib",
    ]  # fmt: skip

    # Batch prediction reads the exported model and the rows from the bucket too.
    scored = batch_prediction_pipeline(model_uri="s3://models/churn", data_uri="s3://data/rows.csv")
    predictions = pd.read_csv(scored.outputs["predictions"].path)

    # MLServer, started as the rendered ServingRuntime says, serves the download.
    rows_csv = tmp_path / "rows.csv"
    rows.to_csv(rows_csv, index=False)
    result = check_serving(
        download, rows_csv, runtime=manifests["servingruntime.yaml"], name="churn"
    )
    classes = exported["classes"]
    expected = predictions[[f"proba_{label}" for label in classes]].to_numpy()
    assert np.allclose(result["served"], expected, atol=1e-9)
    served_classes = np.asarray(classes)[result["served"].argmax(axis=1)]
    assert (served_classes == predictions["prediction"]).all()


def test_export_to_kfp_store_is_fetched_with_the_rendered_annotations(
    s3, messy_model, tmp_path, monkeypatch
):
    """minio:// is KFP's store: the export goes to its endpoint, and KServe finds it from
    the Secret's annotations, turned into the storage initializer's environment as
    KServe's credential builder does (pkg/credentials/s3/utils.go: s3-endpoint and
    s3-usehttps give AWS_ENDPOINT_URL, s3-region gives AWS_DEFAULT_REGION)."""
    from kfp.dsl import Artifact

    from components import deploy_model

    filesystem, endpoint = s3
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only the minio endpoint may lead there
    monkeypatch.setenv("MINIO_ACCESS_KEY", "testing")
    monkeypatch.setenv("MINIO_SECRET_KEY", "testing")
    model, _, _ = messy_model
    uri = "minio://mlpipeline/v2/artifacts/training-pipeline/run-1/train-model/model"
    exported = export_model.python_func(model=model, export_uri=uri, minio_endpoint=endpoint)

    served = Model(name="model", uri=uri, metadata={})
    manifest = Artifact(name="manifest", uri=str(tmp_path / "manifest"), metadata={})
    deploy_model.python_func(
        model=served, manifest=manifest, minio_endpoint=endpoint, storage_uri=exported.uri
    )
    secret = json.loads((pathlib.Path(manifest.path) / "secret.yaml").read_text())
    service = json.loads((pathlib.Path(manifest.path) / "inferenceservice.yaml").read_text())
    annotations = secret["metadata"]["annotations"]
    host = annotations["serving.kserve.io/s3-endpoint"]
    scheme = "https" if annotations["serving.kserve.io/s3-usehttps"] == "1" else "http"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ENDPOINT_URL": f"{scheme}://{host}",
        "AWS_DEFAULT_REGION": annotations["serving.kserve.io/s3-region"],
        "AWS_ACCESS_KEY_ID": os.environ["MINIO_ACCESS_KEY"],
        "AWS_SECRET_ACCESS_KEY": os.environ["MINIO_SECRET_KEY"],
    }
    storage_uri = service["spec"]["predictor"]["model"]["storageUri"]
    assert storage_uri == exported.uri.replace("minio://", "s3://")
    download = tmp_path / "mnt-models"
    assert kserve_download(storage_uri, download, env) == [
        "VERSION.json", "metadata.json", "model-registry.json", "model.joblib",
    ]  # fmt: skip
    assert (download / "model.joblib").read_bytes() == (
        pathlib.Path(model.path) / "model.joblib"
    ).read_bytes()


def test_a_failed_write_names_the_uri_and_the_cause(s3, messy_model):
    model, _, _ = messy_model
    with pytest.raises(SystemExit) as stop:
        export_model.python_func(model=model, export_uri="s3://no-such-bucket/churn")
    message = str(stop.value)
    assert message.startswith("kfp-tabular error: cannot write the model to s3://no-such-bucket")
    assert "NoSuchBucket" in message or "FileNotFoundError" in message
    assert "\n" not in message


def test_an_unsupported_export_scheme_is_refused(messy_model):
    model, _, _ = messy_model
    with pytest.raises(SystemExit, match="unsupported scheme. Use s3://"):
        export_model.python_func(model=model, export_uri="ftp://models/churn")


def test_a_missing_object_is_named(s3):
    from kfp.dsl import Dataset

    with pytest.raises(SystemExit, match="s3://data/nothing.csv: nothing at this URI"):
        local_path(Dataset(name="data", uri="s3://data/nothing.csv", metadata={}))


def test_an_unreachable_store_is_one_line(monkeypatch):
    from kfp.dsl import Dataset

    from pipelines.serving_check import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(SystemExit) as stop:
        local_path(Dataset(name="data", uri="s3://data/x.csv", metadata={}))
    assert str(stop.value).startswith("kfp-tabular error: cannot read s3://data/x.csv (")
    assert "Check the URI, that the bucket exists, and the credentials" in str(stop.value)
    assert "\n" not in str(stop.value)


def test_the_command_line_trains_and_scores_from_the_store(s3, tmp_path, capsys):
    from pipelines.cli import main

    filesystem, _ = s3
    filesystem.pipe("data/customers.csv", make_messy_frame().to_csv(index=False).encode())
    filesystem.pipe("data/rows.csv", make_messy_frame(rows=30, seed=2).to_csv(index=False).encode())
    runs = ["--output-dir", str(tmp_path / "runs")]
    train = ["train", "--data", "s3://data/customers.csv", "--target", "churned"]
    assert main([*train, "--search-space", "[{}]", "--export-uri", "s3://models/c", *runs]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Exported to: s3://models/c/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}/\n", out)
    assert main(["predict", "--model", "s3://models/c", "--data", "s3://data/rows.csv", *runs]) == 0
    assert "Predictions for 30 rows of s3://data/rows.csv" in capsys.readouterr().out
