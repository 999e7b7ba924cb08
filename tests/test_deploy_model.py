"""deploy_model: the InferenceService it renders, and applying it through a fake Kubernetes API."""

import http.server
import json
import pathlib
import threading

import pytest
import yaml
from kfp.dsl import Artifact

from components import deploy_model, runtime
from tests.conftest import model_artifact


def render(tmp_path, model_uri=None, **options):
    """Runs deploy_model; returns its objects by file name, the manifest metadata, the model."""
    manifest = Artifact(name="manifest", uri=str(tmp_path / "manifest"), metadata={})
    model = model_artifact(tmp_path / "model")
    if model_uri:
        model.uri = model_uri
    deploy_model.python_func(model=model, manifest=manifest, **options)
    folder = pathlib.Path(manifest.path)
    objects = {path.name: yaml.safe_load(path.read_text()) for path in folder.iterdir()}
    return objects, manifest.metadata, model


GCS = "gs://models/churn"


def test_renders_a_serving_runtime_and_an_inference_service_that_names_it(tmp_path):
    objects, meta, _ = render(tmp_path, name="churn", cpu="2", memory="4Gi", storage_uri=GCS)
    assert set(objects) == {"servingruntime.yaml", "inferenceservice.yaml"}
    runtime_object, service = objects["servingruntime.yaml"], objects["inferenceservice.yaml"]
    assert (runtime_object["apiVersion"], runtime_object["kind"]) == (
        "serving.kserve.io/v1alpha1",
        "ServingRuntime",
    )
    assert (service["apiVersion"], service["kind"]) == (
        "serving.kserve.io/v1beta1",
        "InferenceService",
    )
    assert service["metadata"] == {"name": "churn"}
    predictor = service["spec"]["predictor"]["model"]
    assert predictor["runtime"] == runtime_object["metadata"]["name"] == "churn-mlserver"
    assert predictor["modelFormat"] == {"name": "sklearn"} and predictor["protocolVersion"] == "v2"
    assert predictor["storageUri"] == GCS + "/"  # KServe lists the prefix as given
    assert predictor["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    spec = runtime_object["spec"]
    assert spec["protocolVersions"] == ["v2"]
    assert [f["name"] for f in spec["supportedModelFormats"]] == ["sklearn"]
    (container,) = spec["containers"]
    assert container["image"] == runtime.SERVING_IMAGE == "kfp-tabular-serving:0.1.0"
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == "serving.runtime.TabularModel"  # ours
    assert env["MLSERVER_PARALLEL_WORKERS"] == "1"  # measured (components/kserve.py)
    assert env["MLSERVER_MODEL_URI"] == "/mnt/models" and env["MLSERVER_HTTP_PORT"] == "8080"
    assert meta == {
        "name": "churn",
        "namespace": "",
        "storage_uri": GCS + "/",
        "runtime": "churn-mlserver",
        "image": "kfp-tabular-serving:0.1.0",
        "files": ["servingruntime.yaml", "inferenceservice.yaml"],
        "applied": False,
        "ready": False,
        "model_version": "",
        "canary_percent": 0,
    }


def test_the_image_is_a_parameter_and_its_default_is_the_runtime_modules():
    defaults = {name: spec.default for name, spec in deploy_model.component_spec.inputs.items()}
    assert defaults["serving_image"] == runtime.SERVING_IMAGE
    from pipelines import training_pipeline

    assert training_pipeline.component_spec.inputs["serving_image"].default == runtime.SERVING_IMAGE


def test_a_kfp_store_model_gets_an_s3_uri_and_the_endpoint_annotations(tmp_path):
    uri = "minio://mlpipeline/v2/artifacts/training-pipeline/run-1/train-model/model"
    objects, meta, _ = render(tmp_path, model_uri=uri, name="churn")
    expected = "s3://mlpipeline/v2/artifacts/training-pipeline/run-1/train-model/model/"
    service = objects["inferenceservice.yaml"]["spec"]["predictor"]
    assert service["model"]["storageUri"] == meta["storage_uri"] == expected
    secret, account = objects["secret.yaml"], objects["serviceaccount.yaml"]
    assert service["serviceAccountName"] == account["metadata"]["name"] == "churn-storage"
    assert account["secrets"] == [{"name": secret["metadata"]["name"]}]
    assert secret["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "seaweedfs.kubeflow:9000",
        "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-region": "minio",
    }
    # KServe's default key names (config/configmap/inferenceservice.yaml); no real keys rendered.
    assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert all(value.startswith("<") for value in secret["stringData"].values())


def test_an_older_kfp_store_endpoint_and_an_own_service_account(tmp_path):
    uri = "minio://mlpipeline/v2/artifacts/x/model"
    objects, _, _ = render(
        tmp_path, model_uri=uri, minio_endpoint="https://minio-service.kubeflow:9000"
    )
    annotations = objects["secret.yaml"]["metadata"]["annotations"]
    assert annotations["serving.kserve.io/s3-endpoint"] == "minio-service.kubeflow:9000"
    assert annotations["serving.kserve.io/s3-usehttps"] == "1"
    objects, _, _ = render(tmp_path / "own", model_uri=uri, service_account="team-s3")
    assert set(objects) == {"servingruntime.yaml", "inferenceservice.yaml"}
    assert objects["inferenceservice.yaml"]["spec"]["predictor"]["serviceAccountName"] == "team-s3"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://models/churn", "s3://models/churn/"),
        ("gs://models/churn/", "gs://models/churn/"),
        ("pvc://models-claim/churn", "pvc://models-claim/churn"),
        (
            "abfs://models@acme.dfs.core.windows.net/churn",
            "https://acme.blob.core.windows.net/models/churn/",
        ),
    ],
)
def test_storage_uris_kserve_fetches(tmp_path, uri, expected):
    objects, _, _ = render(tmp_path, storage_uri=uri)
    assert objects["inferenceservice.yaml"]["spec"]["predictor"]["model"]["storageUri"] == expected


def test_the_export_location_and_namespace_are_used_when_given(tmp_path):
    objects, meta, _ = render(tmp_path, storage_uri=GCS, namespace="team-a")
    for item in objects.values():
        assert item["metadata"]["namespace"] == "team-a"
    assert meta["namespace"] == "team-a"


@pytest.mark.parametrize("name", ["Churn", "1churn", "churn_model", "x" * 46, "churn-"])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(SystemExit, match="is not a valid InferenceService name"):
        render(tmp_path, name=name)


def test_a_location_kserve_cannot_fetch_is_rendered_with_a_warning(tmp_path, capsys):
    objects, _, model = render(tmp_path)  # the local runner's model path
    assert "a local path or a scheme KServe cannot fetch" in capsys.readouterr().out
    assert objects["inferenceservice.yaml"]["spec"]["predictor"]["model"]["storageUri"] == model.uri


def test_apply_outside_a_cluster_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KFP_TABULAR_SERVICE_ACCOUNT", str(tmp_path / "no-account"))
    with pytest.raises(SystemExit, match="apply=True needs to run inside a Kubernetes cluster"):
        render(tmp_path, apply=True, storage_uri=GCS)


@pytest.mark.parametrize("uri", ["", "ftp://models/churn", "abfs://models/churn"])
def test_apply_refuses_a_location_kserve_cannot_fetch_before_sending(fake_cluster, tmp_path, uri):
    with pytest.raises(SystemExit, match="a local path or a scheme KServe cannot fetch"):
        render(tmp_path, apply=True, storage_uri=uri)
    assert fake_cluster.requests == []


class FakeKubernetes(http.server.BaseHTTPRequestHandler):
    """Records requests; answers like the API server, as the test's `script` says."""

    script: dict = {}
    requests: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, self.headers["Authorization"], body))
        status, payload = self.script[self.command].pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_cluster(tmp_path, monkeypatch):
    account = tmp_path / "account"
    account.mkdir()
    (account / "token").write_text("secret-token\n")
    (account / "namespace").write_text("team-b\n")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKubernetes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("KFP_TABULAR_SERVICE_ACCOUNT", str(account))
    monkeypatch.setenv("KFP_TABULAR_KUBE_API", f"http://127.0.0.1:{server.server_port}")
    FakeKubernetes.requests = []
    yield FakeKubernetes
    server.shutdown()


READY = {
    "status": {
        "url": "http://churn.team-b.example.com",
        "conditions": [{"type": "Ready", "status": "True"}],
    }
}
NOT_READY = {
    "status": {"conditions": [{"type": "Ready", "status": "False", "message": "pulling model"}]}
}


def test_apply_creates_the_runtime_and_the_service_and_waits_until_ready(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(201, {})] * 2, "GET": [(200, NOT_READY), (200, READY)]}
    _, meta, _ = render(tmp_path, name="churn", apply=True, timeout_seconds=30, storage_uri=GCS)
    posts = [r for r in fake_cluster.requests if r[0] == "POST"]
    assert [path for _, path, _, _ in posts] == [
        "/apis/serving.kserve.io/v1alpha1/namespaces/team-b/servingruntimes",
        "/apis/serving.kserve.io/v1beta1/namespaces/team-b/inferenceservices",
    ]
    _, _, auth, body = posts[1]
    assert auth == "Bearer secret-token" and body["metadata"] == {
        "name": "churn",
        "namespace": "team-b",
    }
    assert body["spec"]["predictor"]["model"]["runtime"] == posts[0][3]["metadata"]["name"]
    assert meta["applied"] is True and meta["ready"] is True
    assert meta["url"] == "http://churn.team-b.example.com"


def test_apply_for_kfp_store_creates_its_secret_with_the_steps_keys(
    fake_cluster, tmp_path, monkeypatch
):
    monkeypatch.setenv("MINIO_ACCESS_KEY", "minio")
    monkeypatch.setenv("MINIO_SECRET_KEY", "minio123")
    fake_cluster.script = {"POST": [(201, {})] * 4, "GET": [(200, READY)]}
    objects, _, _ = render(tmp_path, model_uri="minio://mlpipeline/v2/a/model", apply=True)
    posts = [r for r in fake_cluster.requests if r[0] == "POST"]
    assert [path.rsplit("/", 1)[1] for _, path, _, _ in posts] == [
        "secrets", "serviceaccounts", "servingruntimes", "inferenceservices"
    ]  # fmt: skip
    assert posts[0][1] == "/api/v1/namespaces/team-b/secrets"
    assert posts[0][3]["stringData"] == {
        "AWS_ACCESS_KEY_ID": "minio",
        "AWS_SECRET_ACCESS_KEY": "minio123",
    }
    # The rendered file, kept in the artifact store, never holds the keys.
    assert "minio123" not in json.dumps(objects)


def test_apply_for_kfp_store_without_its_keys_stops_before_sending(fake_cluster, tmp_path):
    with pytest.raises(SystemExit, match="has no MINIO_ACCESS_KEY/MINIO_SECRET_KEY"):
        render(tmp_path, model_uri="minio://mlpipeline/v2/a/model", apply=True)
    assert fake_cluster.requests == []


def test_apply_replaces_existing_objects(fake_cluster, tmp_path):
    fake_cluster.script = {
        "POST": [(409, {"reason": "AlreadyExists"})] * 2,
        "GET": [
            (200, {"metadata": {"resourceVersion": "41"}}),
            (200, {"metadata": {"resourceVersion": "42"}}),
            (200, READY),
        ],
        "PUT": [(200, {})] * 2,
    }
    render(tmp_path, name="churn", apply=True, storage_uri=GCS)
    puts = [r for r in fake_cluster.requests if r[0] == "PUT"]
    assert puts[0][1].endswith("/servingruntimes/churn-mlserver")
    assert puts[1][1].endswith("/inferenceservices/churn")
    assert [put[3]["metadata"]["resourceVersion"] for put in puts] == ["41", "42"]


def test_apply_refused_by_the_api(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(201, {}), (403, {"reason": "Forbidden"})]}
    with pytest.raises(SystemExit, match=r"refused InferenceService 'churn' in 'team-b' \(403\)"):
        render(tmp_path, name="churn", apply=True, storage_uri=GCS)


def test_apply_times_out_with_the_last_reason(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(201, {})] * 2, "GET": [(200, NOT_READY)] * 10}
    with pytest.raises(SystemExit, match=r"was not Ready after 1 s \(pulling model\)"):
        render(tmp_path, name="churn", apply=True, timeout_seconds=1, storage_uri=GCS)
