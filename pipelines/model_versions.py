"""``kfp-tabular versions`` and ``deploy``: list an export location's versions, serve one.

``deploy`` renders (or applies) the InferenceService of one version: a rollout or a rollback.

The versions, the pointer and retention are ``components/versions.py``'s; this
module only reads them, and moves the pointer after an applied deploy.

Which version serves is known for sure only from the cluster: with
``--name``, ``kubectl get inferenceservice`` is asked for the
``kfp-tabular/model-version`` annotation that ``deploy_model`` writes. Without
``--name``, or when kubectl is missing or refused, the listing says so and
shows the pointer, which names what batch scoring and the next baseline use
(the version the last export or applied deploy named, whether or not a cluster
ever served it).
"""

import contextlib
import io
import json
import pathlib
import shutil
import subprocess


class VersionsFailed(Exception):
    """The export location, the version or kubectl failed; the message is one line."""


def _stopped(error: SystemExit) -> VersionsFailed:
    """A component helper's one-line stop, without its prefix."""
    return VersionsFailed(str(error).removeprefix("kfp-tabular error: "))


def read_versions(export_uri: str, minio_endpoint: str = "") -> tuple:
    """Reads the complete versions and the pointer of an export location.

    Args:
        export_uri: The export location.
        minio_endpoint: The endpoint for ``minio://`` URIs; empty for the default.

    Returns:
        ``(filesystem, root, versions, current)``: ``versions`` is each complete
        version's VERSION.json, oldest first; ``current`` the newest pointer entry
        ({} when none).

    Raises:
        VersionsFailed: When the location cannot be read or holds no version.
    """
    from components.versions import export_store, list_files, read_layout, read_pointer

    try:
        filesystem, root = export_store(export_uri, minio_endpoint)
        layout = read_layout(list_files(filesystem, root))
        versions = [
            json.loads(filesystem.cat_file(f"{root}/{name}/VERSION.json"))
            for name in layout["complete"]
        ]
        current, _ = read_pointer(filesystem, root)
    except SystemExit as error:
        raise _stopped(error) from None
    except Exception as error:  # the store's clients raise many kinds
        cause = (str(error).strip().splitlines() or [""])[0][:200]
        problem = f"cannot read {export_uri} ({type(error).__name__}: {cause})"
        raise VersionsFailed(problem) from None
    if not versions:
        raise VersionsFailed(
            f"{export_uri}: no complete model version. Export one with kfp-tabular train "
            "--export-uri, or check the URI."
        )
    return filesystem, root, versions, current


def serving_version(name: str, namespace: str) -> tuple:
    """Asks kubectl which version an InferenceService serves.

    Args:
        name: The InferenceService.
        namespace: Its namespace; empty for kubectl's current one.

    Returns:
        ``(version, note)``: the ``kfp-tabular/model-version`` annotation, or ""
        with a note saying why it is unknown.
    """
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return "", "unknown (kubectl not found)"
    command = [kubectl, "get", "inferenceservice", name, "-o", "json"]
    command += ["--namespace", namespace] if namespace else []
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "", "unknown (kubectl did not answer in 30 s)"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1][:200]
        return "", f"unknown (kubectl: {reason})"
    service = json.loads(done.stdout or "{}")
    annotations = service.get("metadata", {}).get("annotations", {})
    version = annotations.get("kfp-tabular/model-version", "")
    canary = service.get("spec", {}).get("predictor", {}).get("canaryTrafficPercent")
    where = f"InferenceService {name}, read with kubectl"
    if not version:
        return "", f"unknown ({where}: it has no kfp-tabular/model-version annotation)"
    return version, f"{where}" + (f"; canary at {canary}% of traffic" if canary else "")


def choose_version(versions: list, current: dict, wanted: str, serving: str = "") -> dict:
    """The VERSION.json of ``wanted``: a version name, ``latest`` or ``previous``.

    Args:
        versions: Complete versions, oldest first.
        current: The newest pointer entry.
        wanted: A version, ``latest`` (the pointer's) or ``previous`` (the complete
            version before the one serving, or before the pointer's when that is unknown).
        serving: The version the cluster serves, if known.

    Raises:
        VersionsFailed: When there is no such version.
    """
    names = [item["version"] for item in versions]
    latest = current.get("version") or names[-1]
    if wanted in ("latest", "previous"):
        reference = serving or latest
        if wanted == "latest":
            wanted = latest
        else:
            older = [name for name in names if name < reference]
            if not older:
                raise VersionsFailed(
                    f"no complete version before {reference}: nothing to roll back to."
                )
            wanted = older[-1]
    if wanted not in names:
        shown = ", ".join(names[-5:])
        raise VersionsFailed(
            f"--model-version {wanted}: not a complete version here (the newest: {shown}). "
            "Give one that kfp-tabular versions lists, latest or previous."
        )
    return versions[names.index(wanted)]


def _metrics_text(metrics: dict) -> str:
    shown = [
        f"{name} {value:.4f}"
        for name, value in sorted(metrics.items())
        if isinstance(value, (int, float)) and not name.endswith("_rows")
    ]
    return " ".join(shown[:3]) or "-"


def list_versions(args) -> None:
    """Prints the versions of an export location, newest first, and which one serves."""
    filesystem, root, versions, current = read_versions(args.export_uri, args.minio_endpoint)
    serving, note = ("", "unknown (give --name to ask kubectl)")
    if args.name:
        serving, note = serving_version(args.name, args.namespace)
    pointer = current.get("version", "")
    print(f"Versions of {args.export_uri}, newest first (> the pointer, * serving):")
    print(f"    {'VERSION':<31}{'CREATED':<22}{'TEST METRICS':<58}RUN")
    for item in reversed(versions):
        marks = (">" if item["version"] == pointer else " ") + (
            "*" if item["version"] == serving else " "
        )
        run = item.get("run") or {}
        metrics = _metrics_text(item.get("metrics") or {})
        print(
            f"{marks}  {item['version']:<31}{item.get('created', '-'):<22}{metrics:<58}"
            f"{run.get('name') or run.get('id') or '-'}"
        )
    from components.versions import list_files, read_layout

    unfinished = read_layout(list_files(filesystem, root))["incomplete"]
    if unfinished:  # no VERSION.json: uploads that did not finish, or are still going
        print(f"Ignored, without VERSION.json: {', '.join(unfinished)}")
    print(f"Pointer: {pointer or 'none (the newest complete version is read)'}")
    print(f"Serving: {serving or note}" + (f" ({note})" if serving else ""))


def deploy_version(args) -> pathlib.Path:
    """Renders, and with ``--apply`` applies, the InferenceService for one version.

    ``--apply`` applies only the InferenceService with kubectl (the
    ServingRuntime and credentials are those of the deploy that served before),
    then moves the pointer to the version, so batch scoring and the next
    baseline follow the rollback.

    Returns:
        The folder of the rendered manifests.
    """
    from kfp.dsl import Artifact, Model

    from components import deploy_model
    from components.versions import point_to

    serving = ""
    if args.model_version == "previous":
        serving, _ = serving_version(args.name, args.namespace)
    filesystem, root, versions, current = read_versions(args.export_uri, args.minio_endpoint)
    chosen = choose_version(versions, current, args.model_version, serving)
    version, uri = chosen["version"], f"{args.export_uri.rstrip('/')}/{chosen['version']}/"
    folder = args.output_dir / f"deploy-{version}"
    manifest = Artifact(name="manifest", uri=str(folder), metadata={})
    model = Model(name="model", uri=uri, metadata={"sha256": chosen.get("digest", "")})
    shown = io.StringIO()  # deploy_model's own lines speak of apply=True: only its notes
    try:
        with contextlib.redirect_stdout(shown):
            deploy_model.python_func(
                model=model,
                manifest=manifest,
                name=args.name,
                namespace=args.namespace,
                storage_uri=uri,
                serving_image=args.serving_image,
                service_account=args.service_account,
                minio_endpoint=args.minio_endpoint or "http://seaweedfs.kubeflow:9000",
                model_version=version,
                canary_percent=args.canary_percent,
            )
    except SystemExit as error:
        raise _stopped(error) from None
    for line in shown.getvalue().splitlines():
        if line.startswith("note: "):
            print(line)
    service = folder / "inferenceservice.yaml"
    print(f"Version {version} (created {chosen.get('created', '?')}): {service}")
    if not args.apply:
        print(f"Apply it with: kubectl apply -f {service}  (or give --apply)")
        return folder
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise VersionsFailed("--apply needs kubectl on PATH, configured for the cluster.")
    command = [kubectl, "apply", "-f", str(service)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1][:300]
        raise VersionsFailed(f"kubectl apply -f {service} failed: {reason}")
    try:
        point_to(filesystem, root, version, {"reason": "deploy", "run": {}})
    except SystemExit as error:
        raise _stopped(error) from None
    print(f"Applied: {done.stdout.strip()}; the pointer of {args.export_uri} names {version}.")
    return folder


def current_version_uri(export_uri: str, minio_endpoint: str = "") -> str:
    """The folder of the version the pointer names now, or "" when it cannot be read."""
    try:
        _, _, _, current = read_versions(export_uri, minio_endpoint)
    except VersionsFailed:
        return ""
    version = current.get("version", "")
    return f"{export_uri.rstrip('/')}/{version}/" if version else ""
