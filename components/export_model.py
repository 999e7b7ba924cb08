"""Component: publish a blessed model as a new immutable version where it is served from."""

from typing import NamedTuple

from kfp.dsl import Input, Metrics, Model

from components.runtime import EXPORT_PINS, tabular_component
from components.shared import fail
from components.versions import publish_version


# The only step that writes to object storage installs the storage pins, and none
# of the model's: it copies files (see the package sets in components/runtime.py).
@tabular_component(packages=EXPORT_PINS)
def export_model(
    model: Input[Model],
    metrics: Input[Metrics] = None,
    export_uri: str = "",
    minio_endpoint: str = "http://seaweedfs.kubeflow:9000",
    data_uri: str = "",
    blessing_reasons: list = [],
    keep_versions: int = 10,
    run_id: str = "",
    run_name: str = "",
) -> NamedTuple("Outputs", version=str, uri=str):
    """Publishes the model as a new version under the export location, and points at it.

    Each export writes a new folder, ``<export_uri>/<version>/``, never
    touching an earlier one. The version is the UTC time and the first 8 hex
    digits of ``model.joblib``'s sha256 (``20261207T020000.123Z-3f9a1c2e``),
    so names sort by time. The folder holds the model directory,
    ``model-registry.json`` (the arguments of Kubeflow Hub's
    ``register_model``) and, written last, ``VERSION.json`` (version, digest,
    created, run, data URI, test metrics, blessing reasons): a folder without
    it is an upload that did not finish, and no reader takes it. Then the
    pointer (``<export_uri>/pointer/<n>.json``, each written only if absent, so
    two runs at once both land and it names one of them) names the new version,
    and versions beyond ``keep_versions`` are deleted, oldest first, never the
    one the pointer named or the one before it.

    ``s3://``, ``gs://``, ``abfs://``/``az://`` and ``minio://`` (KFP's own
    store) URIs are written directly with fsspec. Credentials come from the
    standard places (``AWS_*`` variables including ``AWS_ENDPOINT_URL``, Google
    application default credentials, ``AZURE_STORAGE_*`` variables; for
    ``minio://``, KFP's ``mlpipeline-minio-artifact`` keys as
    ``MINIO_ACCESS_KEY`` and ``MINIO_SECRET_KEY``). Anything else is a local
    path (or mounted volume), laid out the same way.

    Args:
        model: The blessed model directory.
        metrics: Its test-set metrics, recorded in ``VERSION.json``.
        export_uri: Where to put it; empty skips the export (and says so).
        minio_endpoint: S3 endpoint of KFP's object store for ``minio://`` URIs
            (``http://minio-service.kubeflow:9000`` before KFP 2.16).
        data_uri: The data the model was trained on, recorded in ``VERSION.json``.
        blessing_reasons: Why it was blessed, recorded in ``VERSION.json``.
        keep_versions: How many versions to keep (besides the one served and
            the one before it); 0 keeps every version.
        run_id: The pipeline run's ID (the pipeline passes KFP's placeholder).
        run_name: The pipeline run's name (likewise).

    Returns:
        version: The new version's name; empty when nothing was exported.
        uri: The new version's folder, ``<export_uri>/<version>/``, for
            ``deploy_model``; empty when nothing was exported.
    """
    import os
    from collections import namedtuple

    outputs = namedtuple("Outputs", ["version", "uri"])
    if not export_uri:
        print("No export_uri set: the blessed model stays where training wrote it.")
        return outputs("", "")
    if keep_versions < 0:
        fail(f"keep_versions {keep_versions} is negative. Give 0 (keep all) or more.")
    if "://" not in export_uri or export_uri.startswith("file://"):
        destination = os.path.abspath(export_uri.removeprefix("file://"))
        if destination == os.path.abspath(model.path):
            fail(f"export_uri {export_uri!r} is the model's own location; choose another.")
    record = {
        "run": {"id": run_id, "name": run_name},
        "data_uri": data_uri,
        "metrics": {
            name: value
            for name, value in (metrics.metadata if metrics is not None else {}).items()
            if not name.startswith("importance_")  # the test metrics, not the columns'
        },
        "blessing": list(blessing_reasons),
    }
    version, uri, deleted = publish_version(
        model.path, export_uri, minio_endpoint, record, keep_versions
    )
    print(f"Exported {model.uri} as version {version}: {uri}")
    if deleted:
        print(f"Deleted {len(deleted)} older versions beyond keep_versions={keep_versions}.")
    return outputs(version, uri)
