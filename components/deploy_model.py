"""Component: render (and optionally apply) what KServe needs to serve a model directory."""

from kfp.dsl import Artifact, Input, Model, Output

from components.kserve import apply_objects, kserve_manifests, kserve_storage_uri, mark_rollout
from components.runtime import NO_PINS, tabular_component
from components.shared import fail
from components.versions import is_version_name


@tabular_component(packages=NO_PINS)
def deploy_model(
    model: Input[Model],
    manifest: Output[Artifact],
    name: str = "tabular-model",
    namespace: str = "",
    storage_uri: str = "",
    serving_image: str = "kfp-tabular-serving:0.1.0",
    service_account: str = "",
    minio_endpoint: str = "http://seaweedfs.kubeflow:9000",
    cpu: str = "1",
    memory: str = "2Gi",
    apply: bool = False,
    timeout_seconds: int = 600,
    model_version: str = "",
    canary_percent: int = 0,
):
    """Writes a KServe ServingRuntime and InferenceService for the model; applies them if asked.

    The ServingRuntime runs ``serving_image``: MLServer with exactly the
    scikit-learn the model was written with (built from ``Dockerfile.serving``;
    KServe's stock sklearn runtime ships older versions). The InferenceService
    names it, with ``modelFormat: sklearn`` and the V2 protocol; MLServer loads
    the model directory as it is. A ``minio://`` location (KFP's own store)
    becomes ``s3://`` plus a Secret and ServiceAccount whose annotations point
    KServe at ``minio_endpoint``. A location KServe cannot fetch (a local path,
    an unknown scheme) is only rendered, with a warning; applying it stops
    before anything is sent. ``apply`` works only inside a cluster: with the
    pod's service account it creates or replaces each object through the
    Kubernetes API, then waits until the InferenceService is Ready.

    Every exported version is its own folder, so a new model is a new
    ``storageUri``: a spec change KServe rolls out. The InferenceService is
    annotated ``kfp-tabular/model-version`` and ``kfp-tabular/model-sha256``.
    ``canary_percent`` renders ``canaryTrafficPercent``: the new version gets
    that share of traffic and the last ready one the rest, until the same
    version is deployed again with 0. KServe honours it in Serverless mode only;
    it is refused where the InferenceService says RawDeployment.

    Args:
        model: The model directory to serve.
        name: InferenceService name: lowercase letters, digits and '-', starting
            with a letter, at most 45 characters.
        namespace: Kubernetes namespace; empty: the pod's own when applying, none
            in the manifests otherwise.
        storage_uri: Where KServe fetches the model from; empty: the model
            artifact's own URI (use the export location when there is one).
        serving_image: The serving image built from ``Dockerfile.serving``.
        service_account: An existing ServiceAccount holding the store's
            credentials for KServe; empty: none, or for ``minio://`` one
            rendered here with KFP's store credentials.
        minio_endpoint: S3 endpoint of KFP's store for ``minio://`` locations
            (``http://minio-service.kubeflow:9000`` before KFP 2.16).
        cpu: CPU request and limit of the predictor.
        memory: Memory request and limit of the predictor.
        apply: Create or replace the objects and wait until the service is Ready.
        timeout_seconds: How long to wait for Ready.
        model_version: The version ``storage_uri`` holds, from ``export_model``;
            empty: read from ``storage_uri`` when it ends in a version.
        canary_percent: 0 rolls the new version out to all traffic; 1 to 99
            sends it that share (KServe's Serverless mode only).

    Returns:
        manifest: Folder of manifests to ``kubectl apply -f``: ``servingruntime.yaml``,
            ``inferenceservice.yaml``, and for KFP's store ``secret.yaml`` (its keys
            left as placeholders) and ``serviceaccount.yaml``. Metadata: ``name``,
            ``namespace``, ``storage_uri``, ``runtime``, ``image``, ``files``,
            ``applied``, ``ready``, ``model_version``, ``canary_percent``.
    """
    import json
    import os
    import re
    import time

    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,43}[a-z0-9])?", name):
        fail(
            f"name {name!r} is not a valid InferenceService name: use lowercase letters, digits "
            "and '-', starting with a letter and ending with a letter or digit, at most 45."
        )
    uri = storage_uri or model.uri
    kserve_uri, s3_endpoint = kserve_storage_uri(uri, minio_endpoint)
    if not kserve_uri:
        problem = (
            f"storageUri {uri!r} is a local path or a scheme KServe cannot fetch. Set export_uri "
            "(or storage_uri) to an s3://, gs://, minio://, pvc:// or https:// location"
        )
        if apply:
            fail(problem + ", then deploy again.")
        print(f"note: {problem}: the rendered InferenceService cannot start as it is.")
        kserve_uri = uri
    objects = kserve_manifests(
        name, namespace, kserve_uri, s3_endpoint, serving_image, service_account, cpu, memory
    )
    last_part = uri.rstrip("/").rsplit("/", 1)[-1]
    version = model_version or (last_part if is_version_name(last_part) else "")
    digest = str(model.metadata.get("sha256", ""))
    mark_rollout(objects["inferenceservice.yaml"], version, digest, canary_percent)
    # JSON is YAML: kubectl apply -f <folder> reads these files as they are.
    os.makedirs(manifest.path, exist_ok=True)
    for file_name, item in objects.items():
        with open(os.path.join(manifest.path, file_name), "w", encoding="utf-8") as out:
            json.dump(item, out, indent=2)
    manifest.metadata.update(
        {
            "name": name,
            "namespace": namespace,
            "storage_uri": kserve_uri,
            "runtime": f"{name}-mlserver",
            "image": serving_image,
            "files": list(objects),
            "applied": False,
            "ready": False,
            "model_version": version,
            "canary_percent": canary_percent,
        }
    )
    if not apply:
        print(f"Rendered {list(objects)} for {kserve_uri}; apply=True deploys them.")
        return

    secret = objects.get("secret.yaml")
    if secret is not None:  # KFP's store: its keys, given to this step as environment
        keys = [os.environ.get("MINIO_ACCESS_KEY"), os.environ.get("MINIO_SECRET_KEY")]
        if not all(keys):
            fail(
                f"{uri} is in KFP's store, but this step has no MINIO_ACCESS_KEY/MINIO_SECRET_KEY "
                "(the pipeline passes them from secret mlpipeline-minio-artifact). Give "
                "service_account with the store's credentials, or run from training_pipeline."
            )
        secret["stringData"] = dict(zip(secret["stringData"], keys, strict=True))
    call, collection, namespace = apply_objects(list(objects.values()), namespace)
    manifest.metadata.update({"namespace": namespace, "applied": True})
    service = f"{collection(objects['inferenceservice.yaml'])}/{name}"
    deadline, ready = time.monotonic() + timeout_seconds, {}
    while time.monotonic() < deadline:
        status = call("GET", service).get("status", {})
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
