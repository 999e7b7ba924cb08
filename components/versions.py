"""Helpers for the versions of a model under one export location.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: the same rules hold, comments rather than docstrings).
The comments on the helpers are short on purpose: they are copied into every
step that calls them, and the training spec has a size budget; the why is here.

An export location (``s3://``, ``gs://``, ``minio://``, ``abfs://``, a local
path) holds one immutable folder per exported model, and a pointer::

    <export_uri>/<version>/model.joblib, metadata.json, model-registry.json
    <export_uri>/<version>/VERSION.json    written last: the upload is complete
    <export_uri>/pointer/<n>.json          n = 00000001, 00000002, ...: the highest
                                           names the current version

A version is ``YYYYMMDDTHHMMSS.mmmZ-<first 8 hex digits of model.joblib's sha256>``
(UTC, to the millisecond): names sort by time, and a new model is a new folder, so the
InferenceService's storageUri changes and KServe rolls it out. A folder without
VERSION.json is an upload that did not finish, and no reader takes it: a model
location is a model directory as training writes it (loaded as it is), a
version folder (only with its VERSION.json), or an export location (the version
its pointer names; without a pointer, the newest complete version).

The pointer is a log of small files, each written only if absent, not one file
rewritten. Every store's fsspec client offers create-if-absent, and raises
FileExistsError when the name is taken: S3's ``If-None-Match: *``
(s3fs/core.py ``_pipe_file(mode="create")``, which turns the 412 into
FileExistsError; moto 5.2 honours it), GCS's ``ifGenerationMatch=0``
(gcsfs/core.py ``simple_upload``; gcsfs/retry.py turns the 412 into
FileExistsError), Azure's ``overwrite=False`` (adlfs/spec.py ``_pipe_file``,
from ResourceExistsError); on a local disk a file
written beside and hard-linked into place (link() refuses an existing name, and
no reader sees a half-written file). A conditional replace (S3 ``If-Match``)
is S3's alone through fsspec (gcsfs passes no generation to match). Two runs
that point at the same moment race for the same number: one wins, the other
reads the new highest and takes the next, so no update is lost and the
pointer always names one complete version.

Retention keeps the newest ``keep`` complete versions and, whatever ``keep``,
the version the pointer names (serving), the complete version before it (the
rollback target) and the one the pointer named before (serving until a moment
ago). A deleted version loses its VERSION.json first, so no reader takes it
half-deleted. Uploads that never finished are deleted once a day old (a
younger one may be another run's, still uploading), and pointer entries beyond
the newest 100.
"""

from components.shared import fail
from components.storage import download, fail_on_store, local_path, object_store


# Whether ``name`` is a version folder's name.
def is_version_name(name: str) -> bool:
    import re

    return re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}", name) is not None


# The complete and incomplete versions (sorted) and pointer numbers in a list of
# relative file paths.
def read_layout(files) -> dict:
    complete, seen, pointers = set(), set(), []
    for name in files:
        head, _, rest = name.partition("/")
        if is_version_name(head):
            seen.add(head)
            complete.update([head] if rest == "VERSION.json" else [])
        elif head == "pointer" and rest.endswith(".json") and rest[:-5].isdigit():
            pointers.append(int(rest[:-5]))
    incomplete = sorted(seen - complete)
    return {"complete": sorted(complete), "incomplete": incomplete, "pointers": sorted(pointers)}


# The folder of a model location to load, relative to it ("" for itself).
#
# Args:
#     files: Every file's path relative to the location.
#     read: A function giving the bytes of a file from its relative path.
#     uri: The location, for messages.
def model_folder(files, read, uri: str) -> str:
    import json

    if is_version_name(uri.rstrip("/").rsplit("/", 1)[-1]):
        if "VERSION.json" not in files:
            fail(
                f"{uri}: an incomplete model version (no VERSION.json: its upload did not "
                "finish). Use the export location, or a version kfp-tabular versions lists."
            )
        return ""
    layout = read_layout(files)
    if layout["pointers"]:
        version = json.loads(read(f"pointer/{layout['pointers'][-1]:08d}.json"))["version"]
        if version not in layout["complete"]:
            fail(
                f"{uri}: its pointer names version {version}, which is not complete there. "
                "Roll back with kfp-tabular deploy --model-version, or export again."
            )
        return version
    if not layout["complete"] and layout["incomplete"] and "model.joblib" not in files:
        fail(f"{uri}: no complete model version, only unfinished uploads. Export again.")
    return (layout["complete"] or [""])[-1]


# The local folder of a model artifact (a model directory, a version folder, or an
# export location: ``model_folder``), and its URI. Like KFP's launcher on a cluster,
# local_path fetches the whole URI (every version kept) on the local runner.
def model_path(artifact):
    return local_model(local_path(artifact), artifact.uri)


# The folder to load under a local model location ``root``, and its URI.
def local_model(root: str, uri: str):
    import os

    files = [
        os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
        for folder, _, names in os.walk(root)
        for name in names
    ]

    def read(name):
        with open(os.path.join(root, name), "rb") as handle:
            return handle.read()

    folder = model_folder(set(files), read, uri)
    return os.path.join(root, folder), f"{uri.rstrip('/')}/{folder}/" if folder else uri


# The local folder of the model at a URI or path (as ``model_path``), and its URI.
# From an object store, the chosen folder alone is listed and downloaded: not
# every version an export location keeps, as KFP's launcher would fetch them.
def fetch_model(uri: str, minio_endpoint: str = ""):
    import os

    store = object_store(uri, minio_endpoint)
    if store is None:
        root = uri.removeprefix("file://")
        if not os.path.isdir(root):
            fail(f"{uri}: no such model directory or export location. Check the path.")
        return local_model(root, uri)
    filesystem, root = store
    root = root.rstrip("/")
    try:
        files = list_files(filesystem, root)
    except Exception as error:  # the store's clients raise many kinds
        fail_on_store(uri, "cannot read", error)
    if not files:
        fail(f"{uri}: nothing at this URI in the object store. Check the URI.")
    folder = model_folder(set(files), lambda name: filesystem.cat_file(f"{root}/{name}"), uri)
    chosen = f"{uri.rstrip('/')}/{folder}/" if folder else uri
    return download(chosen, minio_endpoint), chosen


# The fsspec filesystem and root path of an export location (local disk included).
def export_store(uri: str, minio_endpoint: str = ""):
    import os

    store = object_store(uri, minio_endpoint)
    if store is not None:
        return store
    if "://" in uri and not uri.startswith("file://"):
        fail(
            f"export_uri {uri!r}: unsupported scheme. Use s3://, gs://, minio://, abfs://, "
            "az:// or a local path."
        )
    import fsspec

    return fsspec.filesystem("file"), os.path.abspath(uri.removeprefix("file://"))


def is_local(filesystem) -> bool:
    protocols = filesystem.protocol
    return "file" in (protocols if isinstance(protocols, (tuple, list)) else (protocols,))


# Every file under ``root``, relative to it, as listed now (not from a cache).
def list_files(filesystem, root: str) -> list:
    filesystem.invalidate_cache()
    if not filesystem.exists(root):
        return []
    return sorted(path[len(root) :].lstrip("/") for path in filesystem.find(root))


# Writes ``data`` at ``path`` unless something is there (then False), whole.
def create_exclusive(filesystem, path: str, data: bytes) -> bool:
    import os
    import uuid

    if is_local(filesystem):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{uuid.uuid4().hex}.partial"
        with open(partial, "wb") as handle:
            handle.write(data)
            os.fsync(handle.fileno())
        try:
            os.link(partial, path)
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(partial)
    try:
        filesystem.pipe_file(path, data, mode="create")
        return True
    except FileExistsError:
        return False


# The newest pointer entry ({} when none) and its number.
def read_pointer(filesystem, root: str):
    import json

    files = ["pointer/" + name for name in list_files(filesystem, f"{root}/pointer")]
    number = (read_layout(files)["pointers"] or [0])[-1]
    if not number:
        return {}, 0
    return json.loads(filesystem.cat_file(f"{root}/pointer/{number:08d}.json")), number


# Appends a pointer entry naming ``version`` (with ``entry``'s reason and run);
# taken numbers are read again and the next one tried.
def point_to(filesystem, root: str, version: str, entry: dict) -> dict:
    import json
    import random
    import time

    for _ in range(50):
        current, number = read_pointer(filesystem, root)
        written = {
            **entry,
            "version": version,
            "previous": current.get("version", ""),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        path = f"{root}/pointer/{number + 1:08d}.json"
        if create_exclusive(filesystem, path, json.dumps(written, indent=2).encode()):
            return written
        time.sleep(random.uniform(0.05, 0.3))
    fail(f"{root}: could not update the pointer after 50 tries; too many runs at once?")


# The versions retention never deletes (see the module docstring).
def protected_versions(layout: dict, current: dict) -> set:
    serving = current.get("version", "")
    older = [name for name in layout["complete"] if name < serving]
    return {serving, current.get("previous", ""), *older[-1:]} - {""}


# Deletes versions beyond the newest ``keep`` (0: none), never a protected one;
# returns their names.
def prune_versions(filesystem, root: str, keep: int) -> list:
    import time

    layout = read_layout(list_files(filesystem, root))
    current, _ = read_pointer(filesystem, root)
    kept = set(layout["complete"][-keep:] if keep else layout["complete"])
    kept |= protected_versions(layout, current)
    day_ago = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() - 86400))
    doomed = [name for name in layout["complete"] if name not in kept]
    for name in doomed:
        filesystem.rm_file(f"{root}/{name}/VERSION.json")
    doomed += [name for name in layout["incomplete"] if name < day_ago]
    for name in doomed:
        filesystem.rm(f"{root}/{name}", recursive=True)
    for number in layout["pointers"][:-100]:
        filesystem.rm_file(f"{root}/pointer/{number:08d}.json")
    return doomed


# Uploads a model directory as a new version, VERSION.json last (``record`` plus
# the version, digest, created time and files), points at it and prunes.
# Returns ``(version, version_uri, deleted)``.
def publish_version(local_dir: str, export_uri: str, minio_endpoint: str, record: dict, keep: int):
    import json
    import os
    import time

    filesystem, root = export_store(export_uri, minio_endpoint)
    with open(os.path.join(local_dir, "metadata.json"), encoding="utf-8") as handle:
        metadata = json.load(handle)
    sizes = {}
    for folder, _, files in os.walk(local_dir):
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), local_dir)
            sizes[relative.replace(os.sep, "/")] = os.path.getsize(os.path.join(folder, name))
    base = export_uri.rstrip("/")
    try:
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        version = f"{stamp}-{metadata['sha256'][:8]}"
        folder = f"{root}/{version}"
        if filesystem.exists(folder):  # the same model exported twice in a millisecond
            time.sleep(0.01)
            return publish_version(local_dir, export_uri, minio_endpoint, record, keep)
        if is_local(filesystem):
            filesystem.makedirs(folder, exist_ok=True)
        for name in sorted(sizes):
            filesystem.put_file(os.path.join(local_dir, name), f"{folder}/{name}")
        filesystem.invalidate_cache()
        for name, size in sizes.items():
            if filesystem.size(f"{folder}/{name}") != size:
                raise OSError(f"{name} arrived with another size than its {size} bytes")
        described = {
            "version": version,
            "digest": metadata["sha256"],
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "uri": f"{base}/{version}/",
            **record,
            **{key: metadata.get(key) for key in ("task", "target_column", "framework_version")},
            "files": sizes,
        }
        registry = json.dumps(registry_entry(base, described), indent=2).encode()
        filesystem.pipe_file(f"{folder}/model-registry.json", registry)
        if not create_exclusive(
            filesystem, f"{folder}/VERSION.json", json.dumps(described, indent=2).encode()
        ):
            raise OSError(f"{version} was completed by another run at the same moment")
        point_to(filesystem, root, version, {"reason": "export", "run": record.get("run", {})})
        deleted = prune_versions(filesystem, root, keep)
    except Exception as error:  # the store's clients raise many kinds
        if is_local(filesystem):
            fail(f"cannot write the model to {export_uri!r} ({error}). Check the path.")
        fail_on_store(export_uri, "cannot write the model to", error)
    return version, f"{base}/{version}/", deleted


# The arguments of Kubeflow Hub's (Model Registry's) register_model for a version,
# as they are; its custom properties take only text, numbers and booleans.
def registry_entry(base: str, described: dict) -> dict:
    run = described.get("run") or {}
    metadata = {
        "digest": described["digest"],
        "created": described["created"],
        "run_id": run.get("id", ""),
        "run_name": run.get("name", ""),
        "data_uri": described.get("data_uri", ""),
        "task": str(described["task"]),
        "target_column": str(described["target_column"]),
        "scikit_learn_version": str(described["framework_version"]),
    }
    for name, value in described.get("metrics", {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metadata[f"test_{name}"] = value
    return {
        "name": base.rsplit("/", 1)[-1] or "model",
        "uri": described["uri"],
        "model_format_name": "sklearn",
        "model_format_version": "1",
        "version": described["version"],
        "author": "kfp-tabular",
        "metadata": metadata,
    }
