"""Helpers that render what KServe needs to serve a model directory.

Embedded into ``deploy_model`` as ``shared.py``'s helpers are (read its
docstring: comments rather than docstrings). What KServe does with each field
was read in kserve/kserve; the file is named where a field relies on it.
"""

from components.shared import fail


# The storageUri KServe can fetch for a model location, and the S3 endpoint it needs.
#
# KServe's storage initializer fetches gs:// s3:// pvc:// file:// http(s)://
# hdfs:// webhdfs:// oci:// hf:// and Azure blob https URLs
# (SupportedStorageURIPrefixList in
# pkg/controller/v1beta1/inferenceservice/utils/utils.go), not minio://, KFP's
# default artifact scheme. minio://bucket/key is KFP's store over the S3
# protocol, so it becomes s3://bucket/key with ``minio_endpoint`` for the
# endpoint annotations. abfs://container@account.dfs.core.windows.net/path
# becomes the blob URL of the same object. Object-store URIs end with "/":
# KServe lists the prefix as given, so s3://b/m1 would also fetch m10/.
#
# Args:
#     uri: Where the model directory is.
#     minio_endpoint: The S3 endpoint of KFP's store, for minio:// URIs.
#
# Returns:
#     ``(storage_uri, s3_endpoint)``; ``storage_uri`` is empty when KServe cannot
#     fetch ``uri`` (a local path, an unknown scheme), ``s3_endpoint`` is empty
#     unless ``uri`` is minio://.
def kserve_storage_uri(uri: str, minio_endpoint: str):
    import re

    scheme, separator, rest = uri.partition("://")
    if not separator or not rest:
        return "", ""
    folder = rest.rstrip("/") + "/"
    if scheme == "minio":
        return f"s3://{folder}", minio_endpoint
    if scheme in ("s3", "gs"):
        return f"{scheme}://{folder}", ""
    azure = re.fullmatch(r"(?:abfss?|az)://([^@/]+)@([^./]+)\.[^/]+/(.*)", uri)
    if azure:
        container, account, path = azure.groups()
        return f"https://{account}.blob.core.windows.net/{container}/{path.rstrip('/')}/", ""
    fetched = ("pvc", "file", "https", "http", "hdfs", "webhdfs", "oci", "hf")
    return (uri, "") if scheme in fetched else ("", "")


# The Kubernetes objects that serve a model directory with our own MLServer image.
#
# A ServingRuntime (``<name>-mlserver``) runs ``image``, built from
# Dockerfile.serving with exactly our scikit-learn and friends, since KServe's
# stock sklearn runtime ships other versions (MLServer 1.5.0 with
# scikit-learn 1.4.1 in KServe 0.14-0.17, 1.7.1 with 1.5.2 from 0.18) and a
# joblib model only loads reliably under the version that wrote it. Its
# environment is what KServe's own kserve-mlserver runtime gets
# (config/runtimes/kserve-mlserver.yaml, plus MLSERVER_MODEL_NAME/URI that
# SetMlServerDefaults in pkg/apis/serving/v1beta1/inference_service_defaults.go
# adds only for runtimes it knows as MLServer). The InferenceService names it
# in ``runtime``. For KFP's store (``s3_endpoint`` set) a Secret and a
# ServiceAccount (``<name>-storage``) carry the endpoint annotations KServe
# turns into the storage initializer's S3 settings
# (pkg/credentials/s3/utils.go); the Secret's keys are placeholders here,
# filled from the step's environment only when applied.
#
# Args:
#     name: InferenceService name.
#     namespace: Namespace, or empty for none in the manifests.
#     storage_uri: What KServe fetches, from ``kserve_storage_uri``.
#     s3_endpoint: KFP's store endpoint for a minio:// model, else empty.
#     image: The serving image.
#     service_account: An existing ServiceAccount with the store's credentials, or empty.
#     cpu: CPU request and limit.
#     memory: Memory request and limit.
#
# Returns:
#     ``{file name: object}`` in the order to apply them.
def kserve_manifests(
    name, namespace, storage_uri, s3_endpoint, image, service_account, cpu, memory
) -> dict:
    meta = {"namespace": namespace} if namespace else {}
    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    objects = {}
    if s3_endpoint and not service_account:
        service_account = f"{name}-storage"
        host = s3_endpoint.split("://", 1)[-1].rstrip("/")
        objects["secret.yaml"] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": service_account,
                **meta,
                "annotations": {
                    "serving.kserve.io/s3-endpoint": host,
                    "serving.kserve.io/s3-usehttps": "1"
                    if s3_endpoint.startswith("https")
                    else "0",
                    "serving.kserve.io/s3-region": "minio",  # as KFP's launcher (config/env.go)
                },
            },
            "type": "Opaque",
            "stringData": {
                "AWS_ACCESS_KEY_ID": "<accesskey of secret mlpipeline-minio-artifact>",
                "AWS_SECRET_ACCESS_KEY": "<secretkey of secret mlpipeline-minio-artifact>",
            },
        }
        objects["serviceaccount.yaml"] = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, **meta},
            "secrets": [{"name": service_account}],
        }
    runtime = f"{name}-mlserver"
    models = "/mnt/models"  # where the storage initializer puts the model (pkg/constants)
    environment = {
        # Ours (serving/runtime.py, in the image): rows checked and typed as batch
        # scoring types them, labelled answers, a caller's mistake a 400 in one line.
        "MLSERVER_MODEL_IMPLEMENTATION": "serving.runtime.TabularModel",
        "MLSERVER_MODEL_NAME": "{{.Name}}",  # KServe fills it with the InferenceService name
        # One inference worker beside the HTTP process (MLServer's default, written
        # down): measured on one CPU (taskset) with the default ensemble, one row a
        # request, 1 worker against none (inference in the HTTP process): p50 31 ms
        # against 27, but with 8 clients at once p99 303 ms against 441, as the HTTP
        # process keeps answering (probes too) while the worker scores. More workers
        # only queue for the one CPU. The pool starts since uvloop is pinned to
        # 0.21.0 (requirements-serving.txt, SeldonIO/MLServer#2286).
        "MLSERVER_PARALLEL_WORKERS": "1",
        "MLSERVER_MODEL_URI": models,
        "MLSERVER_HTTP_PORT": "8080",
        "MLSERVER_GRPC_PORT": "9000",
    }
    objects["servingruntime.yaml"] = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {
            "name": runtime,
            **meta,
            "annotations": {"serving.kserve.io/server-type": "mlserver"},
        },
        "spec": {
            "annotations": {
                "prometheus.kserve.io/port": "8080",
                "prometheus.kserve.io/path": "/metrics",
            },
            "supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": False}],
            "protocolVersions": ["v2"],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": image,
                    "command": ["mlserver", "start", models],
                    "env": [{"name": key, "value": value} for key, value in environment.items()],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "privileged": False,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": resources,
                }
            ],
        },
    }
    predictor = {
        "model": {
            "modelFormat": {"name": "sklearn"},
            "runtime": runtime,
            "protocolVersion": "v2",
            "storageUri": storage_uri,
            "resources": resources,
        }
    }
    if service_account:
        predictor["serviceAccountName"] = service_account
    objects["inferenceservice.yaml"] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, **meta},
        "spec": {"predictor": predictor},
    }
    return objects


# Annotates an InferenceService with its model version and digest, and renders a
# canary's share of traffic (spec.predictor.canaryTrafficPercent). A new version is a
# new storageUri, which KServe rolls out. Only the Knative reconciler splits traffic
# (reconcilers/knative/ksvc_reconciler.go), so a canary is refused where the manifests
# say RawDeployment, or Standard, its name from KServe 0.16 (pkg/constants/constants.go).
def mark_rollout(service: dict, version: str, digest: str, canary_percent: int):
    if not 0 <= canary_percent <= 99:
        fail(
            f"canary_percent {canary_percent} is outside 0-99: give 0 for a full rollout, or "
            "the share of traffic the new version gets."
        )
    annotations = service["metadata"].setdefault("annotations", {})
    mode = annotations.get("serving.kserve.io/deploymentMode", "")
    if canary_percent and mode in ("RawDeployment", "Standard"):
        fail(
            f"canary_percent {canary_percent}: KServe splits traffic in Serverless mode only, "
            f"and the InferenceService says deploymentMode {mode}. Give canary_percent 0."
        )
    if version:
        annotations["kfp-tabular/model-version"] = version
    if digest:
        annotations["kfp-tabular/model-sha256"] = digest
    if not annotations:
        del service["metadata"]["annotations"]
    if canary_percent:
        service["spec"]["predictor"]["canaryTrafficPercent"] = canary_percent


# Creates or replaces Kubernetes objects through the API, from inside a pod.
#
# Uses the pod's service account (token, namespace and CA under
# $KFP_TABULAR_SERVICE_ACCOUNT, by default the mounted one) and the API at
# $KFP_TABULAR_KUBE_API, by default https://$KUBERNETES_SERVICE_HOST.
#
# Args:
#     objects: The objects, applied in order; their namespace is set.
#     namespace: Namespace; empty: the pod's own.
#
# Returns:
#     ``(call, collection, namespace)``: a function ``call(method, url, body)``
#     returning the answer (with ``_status`` and ``_detail`` on an HTTP error),
#     a function giving an object's collection URL, and the namespace used.
def apply_objects(objects: list, namespace: str):
    import json
    import os
    import ssl
    import urllib.error
    import urllib.request

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
            f"{account}). Apply the manifests with kubectl apply -f instead, or set apply=False."
        )
    with open(os.path.join(account, "token"), encoding="utf-8") as handle:
        token = handle.read().strip()
    if not namespace:
        with open(os.path.join(account, "namespace"), encoding="utf-8") as handle:
            namespace = handle.read().strip()
    context = None
    if api.startswith("https://"):
        context = ssl.create_default_context(cafile=os.path.join(account, "ca.crt"))

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

    def collection(item):
        group = item["apiVersion"]
        prefix = f"{api}/api/{group}" if group == "v1" else f"{api}/apis/{group}"
        return f"{prefix}/namespaces/{namespace}/{item['kind'].lower()}s"

    for item in objects:
        item["metadata"]["namespace"] = namespace
        created = call("POST", collection(item), item)
        url = f"{collection(item)}/{item['metadata']['name']}"
        if created.get("_status") == 409:  # exists: replace it, keeping its resourceVersion
            current = call("GET", url)
            item["metadata"]["resourceVersion"] = current.get("metadata", {}).get("resourceVersion")
            created = call("PUT", url, item)
        if "_status" in created:
            fail(
                f"the Kubernetes API refused {item['kind']} {item['metadata']['name']!r} in "
                f"{namespace!r} ({created['_status']}): {created['_detail']}. Check KServe is "
                f"installed and the pipeline's service account may create {item['kind']}s."
            )
    return call, collection, namespace
