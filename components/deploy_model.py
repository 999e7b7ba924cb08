"""Component: render (and optionally apply) a KServe InferenceService for a model directory."""

from kfp.dsl import Artifact, Input, Model, Output

from components.runtime import tabular_component
from components.shared import fail


@tabular_component
def deploy_model(
    model: Input[Model],
    manifest: Output[Artifact],
    name: str = "tabular-model",
    namespace: str = "",
    storage_uri: str = "",
    cpu: str = "1",
    memory: str = "2Gi",
    apply: bool = False,
    timeout_seconds: int = 600,
):
    """Writes a KServe InferenceService serving the model, and applies it when asked.

    The predictor uses ``modelFormat: sklearn`` with the V2 protocol (KServe
    serves it with MLServer, which loads our model directory as it is).
    ``apply`` works only inside a cluster: with the pod's service account it
    creates or replaces the InferenceService through the Kubernetes API, then
    waits until its Ready condition is True.

    Args:
        model: The model directory to serve.
        name: InferenceService name: lowercase letters, digits and '-', starting
            with a letter, at most 63 characters.
        namespace: Kubernetes namespace; empty: the pod's own when applying, none
            in the manifest otherwise.
        storage_uri: Where KServe fetches the model from; empty: the model
            artifact's own URI (use the export location when there is one).
        cpu: CPU request and limit of the predictor.
        memory: Memory request and limit of the predictor.
        apply: Create or replace the InferenceService and wait until it is Ready.
        timeout_seconds: How long to wait for Ready.

    Returns:
        manifest: The InferenceService as YAML (``inferenceservice.yaml``).
            Metadata: ``name``, ``namespace``, ``storage_uri``, ``applied``, ``ready``.
    """
    import json
    import os
    import re
    import ssl
    import time
    import urllib.error
    import urllib.request

    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
        fail(
            f"name {name!r} is not a valid InferenceService name: use lowercase letters, digits "
            "and '-', starting with a letter and ending with a letter or digit, at most 63."
        )
    uri = storage_uri or model.uri
    if apply and "://" not in uri:
        fail(
            f"storageUri {uri!r} is a local path, which KServe cannot fetch. Set export_uri (or "
            "storage_uri) to a gs://, s3:// or pvc:// location."
        )
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "protocolVersion": "v2",
                    "storageUri": uri,
                    "resources": {
                        "requests": {"cpu": cpu, "memory": memory},
                        "limits": {"cpu": cpu, "memory": memory},
                    },
                }
            }
        },
    }
    # JSON is YAML: kubectl apply -f reads it as it is.
    os.makedirs(manifest.path, exist_ok=True)
    with open(os.path.join(manifest.path, "inferenceservice.yaml"), "w", encoding="utf-8") as out:
        json.dump(service, out, indent=2)
    manifest.metadata.update(
        {"name": name, "namespace": namespace, "storage_uri": uri, "applied": False, "ready": False}
    )
    if not apply:
        print(f"Rendered InferenceService {name!r} for {uri}; apply=True deploys it.")
        return

    account = os.environ.get(
        "KFP_TABULAR_SERVICE_ACCOUNT", "/var/run/secrets/kubernetes.io/serviceaccount"
    )
    api = os.environ.get("KFP_TABULAR_KUBE_API") or (
        f"https://{os.environ.get('KUBERNETES_SERVICE_HOST', '')}:"
        f"{os.environ.get('KUBERNETES_SERVICE_PORT', '443')}"
    )
    if not os.path.isfile(os.path.join(account, "token")) or api.startswith("https://:"):
        fail(
            "apply=True needs to run inside a Kubernetes cluster (no service account token at "
            f"{account}). Apply the manifest with kubectl instead, or set apply=False."
        )
    with open(os.path.join(account, "token"), encoding="utf-8") as handle:
        token = handle.read().strip()
    if not namespace:
        with open(os.path.join(account, "namespace"), encoding="utf-8") as handle:
            namespace = handle.read().strip()
    service["metadata"]["namespace"] = namespace
    context = None
    if api.startswith("https://"):
        context = ssl.create_default_context(cafile=os.path.join(account, "ca.crt"))
    collection = f"{api}/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices"

    def call(method, url, body=None):
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return {"_status": error.code, "_detail": error.read().decode(errors="replace")[:300]}
        except (urllib.error.URLError, OSError) as error:
            fail(f"cannot reach the Kubernetes API at {api} ({error}). Check the cluster network.")

    created = call("POST", collection, service)
    if created.get("_status") == 409:  # exists: replace it, keeping its resourceVersion
        current = call("GET", f"{collection}/{name}")
        service["metadata"]["resourceVersion"] = current.get("metadata", {}).get("resourceVersion")
        created = call("PUT", f"{collection}/{name}", service)
    if "_status" in created:
        fail(
            f"the Kubernetes API refused InferenceService {name!r} in {namespace!r} "
            f"({created['_status']}): {created['_detail']}. Check KServe is installed and the "
            "pipeline's service account may create inferenceservices."
        )
    manifest.metadata.update({"namespace": namespace, "applied": True})
    deadline, ready = time.monotonic() + timeout_seconds, {}
    while time.monotonic() < deadline:
        status = call("GET", f"{collection}/{name}").get("status", {})
        conditions = {c.get("type"): c for c in status.get("conditions", [])}
        ready = conditions.get("Ready", {})
        if ready.get("status") == "True":
            manifest.metadata.update({"ready": True, "url": status.get("url", "")})
            print(f"InferenceService {name!r} is Ready at {status.get('url', '?')}.")
            return
        time.sleep(min(2, max(deadline - time.monotonic(), 0)))
    reason = ready.get("message") or ready.get("reason") or "no Ready condition yet"
    fail(
        f"InferenceService {name!r} in {namespace!r} was not Ready after {timeout_seconds} s "
        f"({reason}). Check its events with kubectl describe inferenceservice {name}."
    )
