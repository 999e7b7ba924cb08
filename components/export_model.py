"""Component: copy a blessed model directory to where it is served from."""

from kfp.dsl import Input, Model

from components.runtime import EXPORT_PINS, tabular_component
from components.shared import fail
from components.storage import object_store, upload_directory


# The only step that writes to object storage installs the storage pins, and none
# of the model's: it copies files (see the package sets in components/runtime.py).
@tabular_component(packages=EXPORT_PINS)
def export_model(
    model: Input[Model],
    export_uri: str = "",
    minio_endpoint: str = "http://seaweedfs.kubeflow:9000",
):
    """Copies the model directory to the serving location, replacing what was there.

    ``s3://``, ``gs://``, ``abfs://``/``az://`` and ``minio://`` (KFP's own
    store) URIs are written directly to the object store with fsspec: every
    file is uploaded under ``<export_uri>.incoming/`` first, then copied into
    place inside the store, ``metadata.json`` last, so a model server never
    reads a half-uploaded model. Credentials come from the standard places
    (``AWS_*`` variables including ``AWS_ENDPOINT_URL``, Google application
    default credentials, ``AZURE_STORAGE_*`` variables; for ``minio://``,
    KFP's ``mlpipeline-minio-artifact`` keys as ``MINIO_ACCESS_KEY`` and
    ``MINIO_SECRET_KEY``). Anything else is a local path (or mounted volume),
    written beside the destination and renamed into place.

    Args:
        model: The blessed model directory.
        export_uri: Where to put it; empty skips the export (and says so).
        minio_endpoint: S3 endpoint of KFP's object store for ``minio://`` URIs
            (``http://minio-service.kubeflow:9000`` before KFP 2.16).
    """
    import os
    import shutil

    if not export_uri:
        print("No export_uri set: the blessed model stays where training wrote it.")
        return
    if object_store(export_uri, minio_endpoint) is not None:
        names = upload_directory(model.path, export_uri, minio_endpoint)
        print(f"Exported {model.uri} to {export_uri}: {names}")
        return
    if "://" in export_uri and not export_uri.startswith("file://"):
        fail(
            f"export_uri {export_uri!r}: unsupported scheme. Use s3://, gs://, minio://, abfs://, "
            "az:// or a local path."
        )
    destination = export_uri.removeprefix("file://").rstrip("/")
    if os.path.abspath(destination) == os.path.abspath(model.path):
        fail(f"export_uri {export_uri!r} is the model's own location; choose another.")
    parent = os.path.dirname(os.path.abspath(destination))
    try:
        os.makedirs(parent, exist_ok=True)
        staging = destination + ".incoming"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(model.path, staging)
        retired = destination + ".previous"
        shutil.rmtree(retired, ignore_errors=True)
        if os.path.exists(destination):
            os.replace(destination, retired)
        os.replace(staging, destination)
        shutil.rmtree(retired, ignore_errors=True)
    except OSError as error:
        fail(
            f"cannot write the model to {export_uri!r} ({error.strerror}). "
            "Check the path and its permissions."
        )
    print(f"Exported {model.uri} to {export_uri}: {sorted(os.listdir(destination))}")
