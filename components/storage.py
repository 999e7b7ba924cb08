"""Helpers for object storage (S3, KFP's MinIO or SeaweedFS, GCS, Azure), through fsspec.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: the same rules hold, comments rather than docstrings).

Why a component writes to the store itself: in a KFP v2 pod on open-source
Kubeflow, ``/s3/``, ``/minio/`` and ``/gcs/`` are per-pod ``emptyDir`` scratch
folders, not mounts of the store. The launcher downloads input artifacts into
them and uploads only the declared output artifacts; anything else written
there is lost with the pod (kubeflow/pipelines
``backend/src/v2/compiler/argocompiler/container.go`` adds the volumes,
``backend/src/v2/component/launcher_v2.go`` downloads and uploads). Only Vertex
AI mounts ``/gcs/`` as Cloud Storage FUSE.
"""

from components.shared import fail


# The fsspec filesystem and the path in it for an object-store URI; None for a local path.
#
# s3://, gs://, abfs:// and az:// use s3fs, gcsfs and adlfs with their standard
# credentials: the AWS_* variables (AWS_ENDPOINT_URL included) or the pod's
# role; Google application default credentials; the AZURE_STORAGE_* variables.
# minio:// is KFP's own store (its default artifact URIs are
# minio://mlpipeline/v2/artifacts/...): the S3 protocol at ``minio_endpoint``,
# else $KFP_TABULAR_MINIO_ENDPOINT, else the in-cluster
# http://seaweedfs.kubeflow:9000 of KFP 2.16 and later (DefaultEndpointInMultiUserMode in
# kubeflow/pipelines backend/src/v2/objectstore/config.go; minio-service.kubeflow:9000
# before), with the keys of KFP's
# mlpipeline-minio-artifact secret when the pipeline passes them as
# MINIO_ACCESS_KEY / MINIO_SECRET_KEY, else the AWS_* ones.
#
# Args:
#     uri: A URI or a local path.
#     minio_endpoint: The endpoint for minio:// URIs; empty for the default.
def object_store(uri: str, minio_endpoint: str = ""):
    import os

    scheme, separator, path = uri.partition("://")
    backends = {"s3": "s3", "minio": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "abfs", "az": "abfs"}
    if not separator or scheme not in backends:
        return None
    options = {}
    if scheme == "minio":
        options = {
            "endpoint_url": minio_endpoint
            or os.environ.get("KFP_TABULAR_MINIO_ENDPOINT", "http://seaweedfs.kubeflow:9000"),
            "key": os.environ.get("MINIO_ACCESS_KEY") or None,
            "secret": os.environ.get("MINIO_SECRET_KEY") or None,
        }
    try:
        import fsspec

        # A new instance each time: a cached one keeps the credentials it was made with.
        filesystem = fsspec.filesystem(backends[scheme], skip_instance_cache=True, **options)
        return filesystem, path.rstrip("/")
    except ImportError as error:
        fail(
            f"{uri}: {scheme}:// needs the {error.name} package, which this environment lacks. "
            "Install the storage pins of components/runtime.py (STORAGE_PINS)."
        )


# Stops the step with one line naming the URI, what failed and the cause.
#
# Args:
#     uri: The object-store URI.
#     action: What was being done, e.g. "cannot write the model to".
#     error: The exception the store's client raised.
def fail_on_store(uri: str, action: str, error: Exception):
    cause = (str(error).strip().splitlines() or [""])[0][:300]
    fail(
        f"{action} {uri} ({type(error).__name__}: {cause}). Check the URI, that the bucket "
        "exists, and the credentials (AWS_* or MINIO_* variables, Google application default "
        "credentials, AZURE_STORAGE_* variables)."
    )


# The local path of an input artifact, downloading it when it is only a URI.
#
# On a cluster, KFP's launcher has already downloaded the artifact to its
# path. The local runner only records an imported URI, so an object-store URI
# with nothing at its path is downloaded here (``download``).
#
# Args:
#     artifact: An input artifact.
def local_path(artifact) -> str:
    import os

    if os.path.exists(artifact.path) or object_store(artifact.uri) is None:
        return artifact.path
    return download(artifact.uri)


# Downloads an object-store URI (a file, or a folder such as a model) into a
# temporary folder removed when the step ends, and returns its local path.
#
# Args:
#     uri: The object-store URI.
#     minio_endpoint: The endpoint for minio:// URIs; empty for the default.
def download(uri: str, minio_endpoint: str = "") -> str:
    import atexit
    import os
    import shutil
    import tempfile

    filesystem, path = object_store(uri, minio_endpoint)
    path = path.rstrip("/")
    folder = tempfile.mkdtemp(prefix="kfp-tabular-")
    atexit.register(shutil.rmtree, folder, True)
    target = os.path.join(folder, os.path.basename(path) or "artifact")
    try:
        if filesystem.isdir(path):
            for remote in filesystem.find(path):
                local = os.path.join(target, os.path.relpath(remote, path))
                os.makedirs(os.path.dirname(local), exist_ok=True)
                filesystem.get_file(remote, local)
        elif filesystem.isfile(path):
            filesystem.get_file(path, target)
        else:
            fail(f"{uri}: nothing at this URI in the object store. Check the URI.")
    except Exception as error:
        fail_on_store(uri, "cannot read", error)
    return target
