"""Component: copy a blessed model directory to where it is served from."""

from kfp.dsl import Input, Model

from components.runtime import tabular_component
from components.shared import fail


@tabular_component
def export_model(model: Input[Model], export_uri: str = ""):
    """Copies the model directory to the serving location, replacing what was there.

    The copy is made beside the destination and then renamed into place, so a
    model server never sees a half-copied directory. ``gs://``, ``s3://`` and
    ``minio://`` URIs are written through the paths KFP mounts them at in a
    pod (``/gcs/``, ``/s3/``, ``/minio/``); anything else is a local path.

    Args:
        model: The blessed model directory.
        export_uri: Where to put it; empty skips the export (and says so).
    """
    import os
    import shutil

    if not export_uri:
        print("No export_uri set: the blessed model stays where training wrote it.")
        return
    destination = export_uri.rstrip("/")
    for scheme, mount in (("gs://", "/gcs/"), ("s3://", "/s3/"), ("minio://", "/minio/")):
        if destination.startswith(scheme):
            destination = mount + destination[len(scheme) :]
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
