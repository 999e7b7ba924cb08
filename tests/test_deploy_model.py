"""deploy_model: the InferenceService it renders, and applying it through a fake Kubernetes API."""

import http.server
import json
import pathlib
import threading

import pytest
from kfp.dsl import Artifact

from components import deploy_model
from tests.conftest import model_artifact


def render(tmp_path, **options):
    manifest = Artifact(name="manifest", uri=str(tmp_path / "manifest"), metadata={})
    model = model_artifact(tmp_path / "model")
    deploy_model.python_func(model=model, manifest=manifest, **options)
    text = (pathlib.Path(manifest.path) / "inferenceservice.yaml").read_text()
    return json.loads(text), manifest.metadata, model


def test_renders_a_v2_sklearn_inference_service(tmp_path):
    service, meta, model = render(tmp_path, name="churn", cpu="2", memory="4Gi")
    assert (
        service["apiVersion"] == "serving.kserve.io/v1beta1"
        and service["kind"] == "InferenceService"
    )
    assert service["metadata"] == {"name": "churn"}
    predictor = service["spec"]["predictor"]["model"]
    assert predictor["modelFormat"] == {"name": "sklearn"} and predictor["protocolVersion"] == "v2"
    assert predictor["storageUri"] == model.uri
    assert predictor["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert meta == {
        "name": "churn",
        "namespace": "",
        "storage_uri": model.uri,
        "applied": False,
        "ready": False,
    }


def test_the_export_location_and_namespace_are_used_when_given(tmp_path):
    service, meta, _ = render(tmp_path, storage_uri="gs://models/churn", namespace="team-a")
    assert service["spec"]["predictor"]["model"]["storageUri"] == "gs://models/churn"
    assert service["metadata"]["namespace"] == "team-a" and meta["namespace"] == "team-a"


@pytest.mark.parametrize("name", ["Churn", "1churn", "churn_model", "x" * 64, "churn-"])
def test_invalid_names_are_refused(tmp_path, name):
    with pytest.raises(SystemExit, match="is not a valid InferenceService name"):
        render(tmp_path, name=name)


GCS = "gs://models/churn"


def test_apply_outside_a_cluster_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("KFP_TABULAR_SERVICE_ACCOUNT", str(tmp_path / "no-account"))
    with pytest.raises(SystemExit, match="apply=True needs to run inside a Kubernetes cluster"):
        render(tmp_path, apply=True, storage_uri=GCS)


def test_apply_refuses_a_local_path_kserve_cannot_fetch(tmp_path):
    with pytest.raises(SystemExit, match="is a local path, which KServe cannot fetch"):
        render(tmp_path, apply=True)


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


def test_apply_creates_the_service_and_waits_until_ready(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(201, {})], "GET": [(200, NOT_READY), (200, READY)]}
    _, meta, _ = render(tmp_path, name="churn", apply=True, timeout_seconds=30, storage_uri=GCS)
    method, path, auth, body = fake_cluster.requests[0]
    assert (method, path) == (
        "POST",
        "/apis/serving.kserve.io/v1beta1/namespaces/team-b/inferenceservices",
    )
    assert auth == "Bearer secret-token" and body["metadata"] == {
        "name": "churn",
        "namespace": "team-b",
    }
    assert meta["applied"] is True and meta["ready"] is True
    assert meta["url"] == "http://churn.team-b.example.com"


def test_apply_replaces_an_existing_service(fake_cluster, tmp_path):
    fake_cluster.script = {
        "POST": [(409, {"reason": "AlreadyExists"})],
        "GET": [(200, {"metadata": {"resourceVersion": "42"}}), (200, READY)],
        "PUT": [(200, {})],
    }
    render(tmp_path, name="churn", apply=True, storage_uri=GCS)
    put = [r for r in fake_cluster.requests if r[0] == "PUT"][0]
    assert (
        put[1].endswith("/inferenceservices/churn")
        and put[3]["metadata"]["resourceVersion"] == "42"
    )


def test_apply_refused_by_the_api(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(403, {"reason": "Forbidden"})]}
    with pytest.raises(SystemExit, match=r"refused InferenceService 'churn' in 'team-b' \(403\)"):
        render(tmp_path, name="churn", apply=True, storage_uri=GCS)


def test_apply_times_out_with_the_last_reason(fake_cluster, tmp_path):
    fake_cluster.script = {"POST": [(201, {})], "GET": [(200, NOT_READY)] * 10}
    with pytest.raises(SystemExit, match=r"was not Ready after 1 s \(pulling model\)"):
        render(tmp_path, name="churn", apply=True, timeout_seconds=1, storage_uri=GCS)
