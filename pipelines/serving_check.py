"""Prove a model directory serves: start MLServer as a pod would, compare it with batch_predict.

MLServer runs from its own environment (``.venv-serving``, built by ``make
serving-env`` from ``requirements-serving.txt``), with our runtime's files laid
out as Dockerfile.serving copies them (``image_files``). Every check starts it with exactly the
command and environment of the ServingRuntime that ``deploy_model`` renders
(``components/kserve.py``), the model folder standing for ``/mnt/models``;
only the addresses differ (loopback ports free on this machine, for the pod's
8080 and 9000). No setting of its own: a setting added here to make it start
would hide the failure a pod meets.
"""

import contextlib
import json
import math
import pathlib
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

DEFAULT_MLSERVER = (
    pathlib.Path(__file__).resolve().parent.parent / ".venv-serving" / "bin" / "mlserver"
)
STOCK_RUNTIME = "mlserver_sklearn.SKLearnModel"


class ServingCheckFailed(Exception):
    """The model did not load, or served answers that differ from batch_predict's."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on loopback that nothing listens on now.

    Held open together while they are chosen: ports asked for one after another
    may come back equal (seen: MLServer's metrics port taken by its own HTTP one).
    """
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def v2_request(frame, features: list, output: str = "") -> dict:
    """A V2 inference request for the rows, one input per feature.

    Numeric features go as FP64, the others as BYTES (text); missing values as
    null. ``output`` names one output to ask for (``predict_proba`` or
    ``predict`` for the stock runtime); empty: none, and our runtime answers
    with all its labelled outputs. The ``pd`` content type makes the stock
    runtime decode the inputs as a DataFrame (ours reads them by name anyway).
    """
    import pandas as pd

    inputs = []
    for feature in features:
        values = frame[feature["name"]]
        numeric = feature["kind"] == "numeric"
        if numeric:
            values = pd.to_numeric(values, errors="coerce")
        data = [None if pd.isna(v) else (float(v) if numeric else str(v)) for v in values]
        inputs.append(
            {
                "name": feature["name"],
                "shape": [len(data)],
                "datatype": "FP64" if numeric else "BYTES",
                "data": data,
            }
        )
    body = {"parameters": {"content_type": "pd"}, "inputs": inputs}
    if output:
        body["outputs"] = [{"name": output}]
    return body


def post(url: str, body: dict, timeout: float = 30.0) -> dict:
    """POSTs JSON and returns the JSON answer (urllib.error.HTTPError on a 4xx or 5xx)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _wait_until_ready(url: str, server: subprocess.Popen, log: pathlib.Path, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServingCheckFailed(f"MLServer exited while loading the model; log: {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise ServingCheckFailed(
        f"MLServer did not report the model ready in {seconds:.0f} s; log: {log}"
    )


def image_files(root: pathlib.Path) -> dict:
    """Lays out under ``root`` our files as Dockerfile.serving copies them; returns its ENV.

    Every ``COPY`` of the serving image but the requirements file is done here
    (``/opt/kfp-tabular/...`` becomes ``root/opt/kfp-tabular/...``), and its
    ``ENV PYTHONPATH`` points there: the runtime finds exactly the modules the
    image holds, so a helper missing from the image fails here too.
    """
    import re
    import shutil

    repo = pathlib.Path(__file__).resolve().parent.parent
    text = (repo / "Dockerfile.serving").read_text()
    for sources in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        *files, target = sources.split()
        if target.startswith("/tmp/"):
            continue  # requirements-serving.txt: installed in .venv-serving already
        folder = root / target.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        for name in files:
            shutil.copy(repo / name, folder / pathlib.Path(name).name)
    env = dict(re.findall(r"^ENV ([A-Z_]+)=(\S+)$", text, re.MULTILINE))
    return {key: str(root / value.lstrip("/")) for key, value in env.items() if key == "PYTHONPATH"}


def rendered_runtime(name: str = "model") -> dict:
    """The ServingRuntime ``deploy_model`` renders (components/kserve.py), default settings."""
    from components.kserve import kserve_manifests

    objects = kserve_manifests(
        name=name, namespace="", storage_uri="s3://models/model/", s3_endpoint="",
        image="kfp-tabular-serving:0.1.0", service_account="", cpu="1", memory="2Gi",
    )  # fmt: skip
    return objects["servingruntime.yaml"]


def runtime_launch(runtime: dict, model_dir: pathlib.Path, name: str, ports: dict):
    """The command and environment a rendered ServingRuntime gives MLServer, as KServe runs it.

    KServe puts the model where the runtime expects ``/mnt/models`` and fills
    ``{{.Name}}`` with the InferenceService's name; here the model folder stands
    for ``/mnt/models`` and free loopback ports for the pod's.
    """
    (container,) = runtime["spec"]["containers"]
    command = [str(model_dir) if word == "/mnt/models" else word for word in container["command"]]
    env = {
        item["name"]: str(model_dir)
        if item["value"] == "/mnt/models"
        else item["value"].replace("{{.Name}}", name)
        for item in container["env"]
    }
    env.update(
        MLSERVER_HTTP_PORT=str(ports["http_port"]),
        MLSERVER_GRPC_PORT=str(ports["grpc_port"]),
        MLSERVER_METRICS_PORT=str(ports["metrics_port"]),
        MLSERVER_HOST="127.0.0.1",
    )
    return command, env


@contextlib.contextmanager
def serve(
    model_dir: pathlib.Path,
    runtime: dict = None,
    name: str = "model",
    mlserver: pathlib.Path = DEFAULT_MLSERVER,
    implementation: str = "",
    startup_seconds: float = 90.0,
):
    """Starts MLServer on ``model_dir`` as the ServingRuntime says; yields the model's V2 URL.

    Args:
        model_dir: A model directory from the training pipeline (stands for /mnt/models).
        runtime: A ServingRuntime as ``deploy_model`` renders it; default: ``rendered_runtime``.
        name: The model's name, as the InferenceService's name in KServe.
        mlserver: The ``mlserver`` executable of the serving environment.
        implementation: Another MLModel class in place of the runtime's (the
            benchmark's stock ``mlserver_sklearn.SKLearnModel``); empty: the runtime's.
        startup_seconds: How long MLServer may take to load the model.

    Yields:
        ``(url, log)``: ``http://127.0.0.1:<port>/v2/models/<name>`` and the server log's path.
    """
    import os

    if not pathlib.Path(mlserver).exists():
        raise ServingCheckFailed(f"{mlserver} not found: run `make serving-env` first.")
    model_dir = pathlib.Path(model_dir).resolve()
    ports = dict(zip(("http_port", "grpc_port", "metrics_port"), free_ports(3), strict=True))
    command, env = runtime_launch(
        runtime=runtime or rendered_runtime(name), model_dir=model_dir, name=name, ports=ports
    )
    command = [str(mlserver) if command[0] == "mlserver" else command[0], *command[1:]]
    if implementation:
        env["MLSERVER_MODEL_IMPLEMENTATION"] = implementation
    log = pathlib.Path(tempfile.gettempdir()) / f"mlserver-{ports['http_port']}.log"
    image = tempfile.TemporaryDirectory(prefix="kfp-tabular-image-")
    environment = {**os.environ, **image_files(pathlib.Path(image.name)), **env}
    with image, open(log, "w") as log_file:
        server = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=environment,
            cwd=image.name,
        )  # fmt: skip
        base = f"http://127.0.0.1:{ports['http_port']}/v2/models/{name}"
        try:
            _wait_until_ready(base + "/ready", server, log, startup_seconds)
            yield base, log
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def batch_scores(model_dir: pathlib.Path, rows_csv: pathlib.Path):
    """batch_predict's predictions of the rows and its metadata (the component, as a function)."""
    import pandas as pd
    from kfp.dsl import Dataset, Model

    from components import batch_predict

    with tempfile.TemporaryDirectory(prefix="kfp-tabular-batch-") as folder:
        out = Dataset(name="predictions", uri=str(pathlib.Path(folder) / "p.csv"), metadata={})
        batch_predict.python_func(
            model=Model(name="model", uri=str(model_dir), metadata={}),
            data=Dataset(name="rows", uri=str(rows_csv), metadata={}),
            predictions=out,
        )
        return pd.read_csv(out.path, keep_default_na=False, na_values=[""]), out.metadata


def check_serving(
    model_dir: pathlib.Path,
    rows_csv: pathlib.Path,
    mlserver: pathlib.Path = DEFAULT_MLSERVER,
    tolerance: float = 1e-9,
    startup_seconds: float = 90.0,
    runtime: dict = None,
    name: str = "model",
    method: str = "",
    implementation: str = "",
) -> dict:
    """Serves ``model_dir`` with MLServer on loopback and compares its answers with batch_predict's.

    Args:
        model_dir: A model directory from the training pipeline.
        rows_csv: Rows to send (the model's feature columns; others are ignored).
        mlserver: The ``mlserver`` executable of the serving environment.
        tolerance: Largest difference allowed between served and batch probabilities.
        startup_seconds: How long MLServer may take to load the model.
        runtime: A ServingRuntime as ``deploy_model`` renders it; default: the
            one it renders with its defaults. MLServer starts with exactly its
            container's command and environment, as KServe would start it.
        name: The model's name, as the InferenceService's name in KServe.
        method: ``predict`` or ``predict_proba`` to ask for that output by
            name (as a client of the stock sklearn runtime does), compared with
            the Pipeline's own method; empty: a plain request, whose labelled
            outputs (``prediction``, ``proba_<class>``) are compared with
            batch_predict's columns.
        implementation: Another MLModel class in place of the runtime's
            (``mlserver_sklearn.SKLearnModel``: the stock runtime; it needs ``method``).

    Returns:
        ``{"rows", "max_abs_difference", "predictions_equal", "served", "outputs",
        "parameters"}``: ``served`` holds the probabilities (columns in the
        classes' order), a regressor's predictions, or with ``method`` that
        output; ``outputs`` every output by name; ``parameters`` the response's.

    Raises:
        ServingCheckFailed: With the reason and the server log's path.
    """
    import numpy as np

    from components.scoring import typed_rows
    from components.shared import load_model_dir
    from components.tables import read_csv_table

    if not pathlib.Path(mlserver).exists():
        raise ServingCheckFailed(f"{mlserver} not found: run `make serving-env` first.")
    model_dir = pathlib.Path(model_dir).resolve()
    estimator, meta = load_model_dir(str(model_dir), str(model_dir))
    rows, options = read_csv_table(str(rows_csv), str(rows_csv))
    regression = meta.get("task") == "regression"
    classes = [str(label) for label in getattr(estimator, "classes_", [])]
    features = meta["features"]
    typed = typed_rows(frame=rows.copy(), features=features, source=str(rows_csv), options={})
    started = serve(
        model_dir, runtime=runtime, name=name, mlserver=mlserver, implementation=implementation,
        startup_seconds=startup_seconds,
    )  # fmt: skip
    with started as (url, log):
        try:
            answer = post(url + "/infer", v2_request(typed, meta["features"], method))
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise ServingCheckFailed(
                f"MLServer refused the request ({error.code}): {detail}; log: {log}"
            ) from None
    outputs = {
        o["name"]: np.asarray(
            o["data"], dtype=float if o["datatype"][:2] == "FP" else None
        ).reshape(o["shape"])
        for o in answer["outputs"]
    }
    if method:
        expected = getattr(estimator, method)(typed)
        served = outputs[method]
        labels = method == "predict" and not regression
        if regression or labels:
            served = served.reshape(-1)
    else:
        scored, _ = batch_scores(model_dir, rows_csv)
        if regression:
            expected, served = scored["prediction"].to_numpy(), outputs["prediction"]
        else:
            names = [f"proba_{label}" for label in classes]
            expected = scored[names].to_numpy()
            served = np.column_stack([outputs[n] for n in names])
            pairs = zip(outputs["prediction"], scored["prediction"], strict=False)
            same = [str(a) == str(b) for a, b in pairs]
        labels = False
    if labels:  # classes: equal or not
        same_classes = served.shape == expected.shape and bool((served == expected).all())
        difference = 0.0 if same_classes else math.inf
    else:
        difference = float(np.max(np.abs(served - expected))) if served.size else 0.0
        if regression:
            same_classes = True
        elif method:
            same_classes = bool((served.argmax(axis=1) == expected.argmax(axis=1)).all())
        else:
            same_classes = len(same) == len(rows) and all(same)
    if served.shape != expected.shape or difference > tolerance or not same_classes:
        raise ServingCheckFailed(
            f"MLServer's {method or 'labelled'} answers differ from batch_predict's by up to "
            f"{difference:.3g} (shape {list(served.shape)} vs {list(expected.shape)}, "
            f"predictions equal: {same_classes}); log: {log}"
        )
    return {
        "rows": len(rows),
        "max_abs_difference": difference,
        "predictions_equal": same_classes,
        "served": served,
        "outputs": outputs,
        "parameters": answer.get("parameters") or {},
    }
