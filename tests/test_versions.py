"""Model versions under an export location: publish, roll out, race, roll back, retain, read.

Against the real S3 API server on loopback the object-storage tests use (moto,
one server for the module, a bucket a test) and KServe's own storage
initializer, and on a local path, which must behave the same.
"""

import json
import os
import pathlib
import subprocess
import sys
import threading
import uuid

import pytest
import yaml
from kfp.dsl import Artifact, Dataset, Markdown, Metrics, Model

from components import batch_predict, bless_model, deploy_model, export_model
from components.storage import object_store
from components.versions import (
    create_exclusive,
    export_store,
    fetch_model,
    is_version_name,
    model_path,
    point_to,
)
from pipelines.cli import main
from tests.conftest import kserve_download, make_messy_frame, train_on_csv, trivial_metrics

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path):
    """An empty export location: a fresh bucket on the S3 server, or a local folder."""
    if request.param == "local":
        return str(tmp_path / "serving" / "churn")
    request.getfixturevalue("s3_server")
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    object_store("s3://any")[0].mkdir(bucket)
    return f"s3://{bucket}/churn"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two different models of the same table (two digests), and the test rows."""
    folder = tmp_path_factory.mktemp("models")
    csv = folder / "customers.csv"
    make_messy_frame().to_csv(csv, index=False)
    first, _, test = train_on_csv(csv, "churned", folder / "first")
    second, _, _ = train_on_csv(csv, "churned", folder / "second", n_estimators=21)
    return first, second, test


def files_of(export_uri: str) -> dict:
    """Every file under an export location: relative path -> bytes."""
    filesystem, root = export_store(export_uri)
    filesystem.invalidate_cache()
    return {path[len(root) + 1 :]: filesystem.cat_file(path) for path in filesystem.find(root)}


def pointer(files: dict) -> dict:
    """The newest pointer entry."""
    return json.loads(files[max(name for name in files if name.startswith("pointer/"))])


def model_bytes(model) -> bytes:
    return (pathlib.Path(model.path) / "model.joblib").read_bytes()


def render(tmp_path, model, **options) -> dict:
    """deploy_model's InferenceService for ``model`` (as the pipeline passes it)."""
    manifest = Artifact(name="manifest", uri=str(tmp_path / uuid.uuid4().hex), metadata={})
    deploy_model.python_func(model=model, manifest=manifest, **options)
    return json.loads((pathlib.Path(manifest.path) / "inferenceservice.yaml").read_text())


def test_two_exports_make_two_versions_and_a_new_storage_uri(store, models, tmp_path):
    first, second, _ = models
    metrics = Metrics(name="metrics", uri="", metadata={"roc_auc": 0.9, "importance_plan": 0.1})
    one = export_model.python_func(
        model=first, metrics=metrics, export_uri=store, data_uri="s3://data/customers.csv",
        blessing_reasons=["roc_auc 0.9 beats the trivial model"], run_id="run-1", run_name="r1",
    )  # fmt: skip
    two = export_model.python_func(model=second, export_uri=store)
    files = files_of(store)
    assert one.version != two.version and one.version.endswith(first.metadata["sha256"][:8])
    assert one.uri == f"{store}/{one.version}/"
    for output, model in ((one, first), (two, second)):
        assert sorted(name for name in files if name.startswith(output.version)) == [
            f"{output.version}/{name}"
            for name in ("VERSION.json", "metadata.json", "model-registry.json", "model.joblib")
        ]
        assert files[f"{output.version}/model.joblib"] == model_bytes(model)
    described = json.loads(files[f"{one.version}/VERSION.json"])
    assert described["digest"] == first.metadata["sha256"]
    assert described["run"] == {"id": "run-1", "name": "r1"}
    assert described["data_uri"] == "s3://data/customers.csv"
    assert described["metrics"] == {"roc_auc": 0.9}  # the test metrics, not the importances
    assert described["blessing"] == ["roc_auc 0.9 beats the trivial model"]
    assert pointer(files)["version"] == two.version and pointer(files)["previous"] == one.version

    # Model Registry: the file is register_model's keyword arguments as they are.
    registry = json.loads(files[f"{one.version}/model-registry.json"])
    assert registry == {
        "name": "churn",
        "uri": one.uri,
        "model_format_name": "sklearn",
        "model_format_version": "1",
        "version": one.version,
        "author": "kfp-tabular",
        "metadata": registry["metadata"],
    }
    assert registry["metadata"]["test_roc_auc"] == 0.9 and registry["metadata"]["run_id"] == "run-1"
    assert all(isinstance(v, (str, int, float)) for v in registry["metadata"].values())

    # Each export renders a different storageUri: a spec change KServe rolls out.
    services = [
        render(tmp_path, model, storage_uri=output.uri, model_version=output.version, name="churn")
        for output, model in ((one, first), (two, second))
    ]
    uris = [service["spec"]["predictor"]["model"]["storageUri"] for service in services]
    assert uris == [one.uri, two.uri]
    assert services[1]["metadata"]["annotations"] == {
        "kfp-tabular/model-version": two.version,
        "kfp-tabular/model-sha256": second.metadata["sha256"],
    }
    assert "canaryTrafficPercent" not in services[1]["spec"]["predictor"]


def test_kserve_downloads_exactly_the_version_named(s3_server, models, tmp_path):
    first, second, _ = models
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    object_store("s3://any")[0].mkdir(bucket)
    one = export_model.python_func(model=first, export_uri=f"s3://{bucket}/churn")
    export_model.python_func(model=second, export_uri=f"s3://{bucket}/churn")
    service = render(tmp_path, first, storage_uri=one.uri, model_version=one.version)
    storage_uri = service["spec"]["predictor"]["model"]["storageUri"]
    download = tmp_path / "mnt-models"
    env = {**os.environ, "S3_VERIFY_SSL": "0"}
    assert kserve_download(storage_uri, download, env) == [
        "VERSION.json", "metadata.json", "model-registry.json", "model.joblib",
    ]  # fmt: skip
    assert (download / "model.joblib").read_bytes() == model_bytes(first)


def test_racing_exports_land_two_whole_versions_and_a_pointer_to_one(store, models):
    first, second, _ = models
    outputs, errors = {}, []

    def export(model):
        try:
            outputs[model.path] = export_model.python_func(model=model, export_uri=store)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=export, args=(model,)) for model in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    files = files_of(store)
    versions = {output.version for output in outputs.values()}
    for model in (first, second):
        version = outputs[model.path].version
        assert files[f"{version}/model.joblib"] == model_bytes(model)  # nothing mixed
        described = json.loads(files[f"{version}/VERSION.json"])
        meta = json.loads(files[f"{version}/metadata.json"])
        assert described["digest"] == meta["sha256"] == model.metadata["sha256"]
    entries = [json.loads(data) for name, data in files.items() if name.startswith("pointer/")]
    assert {entry["version"] for entry in entries} == versions  # no update lost
    assert pointer(files)["version"] in versions


def test_the_pointer_is_written_only_if_absent(store):
    """The primitive the pointer relies on, against the store's real API."""
    filesystem, root = export_store(store)
    if root.startswith("/"):
        os.makedirs(root)
    assert create_exclusive(filesystem, f"{root}/pointer/00000001.json", b'{"version": "a"}')
    assert not create_exclusive(filesystem, f"{root}/pointer/00000001.json", b'{"version": "b"}')
    assert filesystem.cat_file(f"{root}/pointer/00000001.json") == b'{"version": "a"}'


def test_many_runs_pointing_at_once_lose_no_entry(tmp_path):
    filesystem, root = export_store(str(tmp_path / "churn"))
    names = [f"20261207T0100{i:02d}.000Z-0000000{i}" for i in range(8)]
    threads = [
        threading.Thread(target=point_to, args=(filesystem, root, name, {"reason": "test"}))
        for name in names
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = sorted((tmp_path / "churn" / "pointer").iterdir())
    assert [p.name for p in entries] == [f"{n:08d}.json" for n in range(1, 9)]
    assert sorted(json.loads(p.read_text())["version"] for p in entries) == names


# The pod is killed once the model's files are up, before VERSION.json: os._exit runs no
# cleanup of any kind.
KILLED_UPLOAD = """
import os, sys
import components.versions
from components import export_model
from kfp.dsl import Model

components.versions.registry_entry = lambda *args: os._exit(9)
model = Model(name="m", uri=sys.argv[1], metadata={})
export_model.python_func(model=model, export_uri=sys.argv[2])
"""


def test_an_upload_killed_midway_leaves_no_version_a_reader_accepts(store, models, capsys):
    first, second, _ = models
    done = subprocess.run(
        [sys.executable, "-c", KILLED_UPLOAD, second.path, store], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 9, done.stderr[-2000:]
    files = files_of(store)
    (killed,) = {name.split("/")[0] for name in files}
    assert f"{killed}/model.joblib" in files and f"{killed}/VERSION.json" not in files
    with pytest.raises(SystemExit, match="no complete model version, only unfinished uploads"):
        model_path(Model(name="m", uri=store, metadata={}))
    with pytest.raises(SystemExit, match="an incomplete model version .no VERSION.json"):
        model_path(Model(name="m", uri=f"{store}/{killed}/", metadata={}))

    # A complete export beside it is what readers take; the half-upload stays ignored.
    one = export_model.python_func(model=first, export_uri=store)
    local, uri = model_path(Model(name="m", uri=store, metadata={}))
    assert uri == one.uri
    assert (pathlib.Path(local) / "model.joblib").read_bytes() == model_bytes(first)
    assert main(["versions", store]) == 0
    listing = capsys.readouterr().out
    assert one.version in listing and f"Ignored, without VERSION.json: {killed}" in listing
    assert main(["deploy", "--export-uri", store, "--model-version", killed]) == 1


def test_retention_keeps_the_serving_version_and_the_one_before(tmp_path, models):
    first, second, _ = models
    serving = str(tmp_path / "churn")
    filesystem, root = export_store(serving)
    outputs = [export_model.python_func(model=m, export_uri=serving) for m in (first, second)]
    outputs += [export_model.python_func(model=m, export_uri=serving) for m in (first, second)]
    point_to(filesystem, root, outputs[0].version, {"reason": "rollback"})  # v1 serves again
    stale = tmp_path / "churn" / "20200101T000000.000Z-deadbeef"  # an upload killed years ago
    stale.mkdir()
    (stale / "model.joblib").write_bytes(b"half")
    newest = export_model.python_func(model=first, export_uri=serving, keep_versions=1)
    left = sorted(p.name for p in (tmp_path / "churn").iterdir() if p.name != "pointer")
    # Kept: the newest (keep_versions=1, and the pointer's now), the one before it (the
    # rollback target), and v1, which served until this export.
    assert left == sorted([outputs[0].version, outputs[3].version, newest.version])


def test_rollback_renders_and_applies_the_previous_version(s3_server, models, tmp_path, capsys):
    first, second, _ = models
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    object_store("s3://any")[0].mkdir(bucket)
    store = f"s3://{bucket}/churn"
    one = export_model.python_func(model=first, export_uri=store, run_name="monday")
    two = export_model.python_func(model=second, export_uri=store, run_name="tuesday")

    # A kubectl that answers as a cluster serving ``two`` would, and records what it applies.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "kubectl.log"
    served = {"metadata": {"annotations": {"kfp-tabular/model-version": two.version}}}
    (bin_dir / "kubectl").write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        f"if [ \"$1\" = get ]; then echo '{json.dumps(served)}'; exit 0; fi\n"
        'echo "inferenceservice.serving.kserve.io/churn configured"\n'
    )
    (bin_dir / "kubectl").chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", path)
        assert main(["versions", store, "--name", "churn"]) == 0
        listing = capsys.readouterr().out
        deploy = ["deploy", "--export-uri", store, "--name", "churn"]
        assert main([*deploy, "--model-version", "previous", "--output-dir", str(tmp_path)]) == 0
        assert "Apply it with: kubectl apply -f" in capsys.readouterr().out
        assert main([*deploy, "--model-version", "previous", "--apply", "--output-dir",
                     str(tmp_path)]) == 0  # fmt: skip
    lines = listing.splitlines()
    assert lines[2].startswith(">*  " + two.version) and "tuesday" in lines[2]
    assert lines[3].startswith("    " + one.version) and "monday" in lines[3]
    assert f"Serving: {two.version} (InferenceService churn, read with kubectl)" in listing

    rendered = tmp_path / f"deploy-{one.version}" / "inferenceservice.yaml"
    service = yaml.safe_load(rendered.read_text())
    assert service["spec"]["predictor"]["model"]["storageUri"] == one.uri
    assert service["metadata"]["annotations"]["kfp-tabular/model-version"] == one.version
    applied = log.read_text().splitlines()
    assert applied[-1] == f"apply -f {rendered}"
    # The pointer follows the rollback: batch scoring and the next baseline read ``one``.
    assert model_path(Model(name="m", uri=store, metadata={}))[1] == one.uri
    assert main(["deploy", "--export-uri", store, "--model-version", "nope"]) == 1
    assert "--model-version nope: not a complete version here" in capsys.readouterr().err


def test_canary_is_rendered_and_refused_in_raw_deployment(tmp_path, models):
    from components.kserve import mark_rollout

    first, _, _ = models
    service = render(tmp_path, first, storage_uri="gs://m/churn/", canary_percent=10)
    assert service["spec"]["predictor"]["canaryTrafficPercent"] == 10
    raw = {"metadata": {"annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}}}
    with pytest.raises(SystemExit, match="KServe splits traffic in Serverless mode only"):
        mark_rollout({**raw, "spec": {"predictor": {}}}, "", "", 10)
    with pytest.raises(SystemExit, match="canary_percent 100 is outside 0-99"):
        render(tmp_path, first, storage_uri="gs://m/churn/", canary_percent=100)


def test_batch_scoring_and_the_baseline_take_an_export_location(s3_server, models, tmp_path):
    first, second, test = models
    bucket = f"models-{uuid.uuid4().hex[:12]}"
    filesystem = object_store("s3://any")[0]
    filesystem.mkdir(bucket)
    store = f"s3://{bucket}/churn"
    export_model.python_func(model=first, export_uri=store)
    current = export_model.python_func(model=second, export_uri=store)

    rows = tmp_path / "rows.csv"
    make_messy_frame(rows=30, seed=3).drop(columns="churned").to_csv(rows, index=False)
    predictions = Dataset(name="p", uri=str(tmp_path / "predictions.csv"), metadata={})
    batch_predict.python_func(
        model=Model(name="m", uri=store, metadata={}),
        data=Dataset(name="d", uri=str(rows), metadata={}),
        predictions=predictions,
    )
    assert predictions.metadata["rows"] == 30
    assert predictions.metadata["model"] == current.uri  # the version the pointer names

    def baseline_value(baseline):
        decision = Markdown(name="d", uri=str(tmp_path / "decision.md"), metadata={})
        scores = Metrics(name="s", uri=str(tmp_path / "scores"), metadata={})
        bless_model.python_func(
            model=first, metrics=Metrics(name="m", uri="", metadata={"balanced_accuracy": 0.5}),
            trivial_metrics=trivial_metrics(first, test), test=test, decision=decision,
            decision_metrics=scores, baseline_model_uri=baseline,
        )  # fmt: skip
        return scores.metadata["baseline_value"]

    # The export location's baseline is its current version: the second model.
    from_store = baseline_value(store)
    assert from_store == baseline_value(second.path)
    # Read by the step itself: the current version alone is downloaded, not the others.
    local, chosen = fetch_model(store)
    assert chosen == current.uri
    names = set(os.listdir(local))
    assert set(os.listdir(second.path)) | {"VERSION.json"} <= names
    assert not any(is_version_name(name) or name == "pointer" for name in names)
