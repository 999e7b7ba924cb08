"""Prove a model directory serves: start the real MLServer, ask it, compare with our own answers.

MLServer with its scikit-learn runtime is the V2-protocol server KServe uses
for ``modelFormat: sklearn``. It runs from its own environment
(``.venv-serving``, built by ``make serving-env`` from
``requirements-serving.txt``). The model directory needs no change: MLServer
is given a settings folder of its own whose ``model-settings.json`` points at
the directory's ``model.joblib``, or, to check what ``deploy_model`` renders,
exactly the command and environment of its ServingRuntime. ``parallel_workers``
is 0, because MLServer's worker pool did not start here.
"""

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


def v2_request(frame, features: list, output: str = "predict_proba") -> dict:
    """A V2 inference request for the rows, one input per feature, decoded by MLServer as pandas.

    Numeric features go as FP64, the others as BYTES (text); missing values as
    null. ``output`` names the model method to answer with: ``predict_proba``
    for a classifier, ``predict`` for a regressor.
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
    return {
        "parameters": {"content_type": "pd"},
        "inputs": inputs,
        "outputs": [{"name": output}],
    }


def _post(url: str, body: dict, timeout: float = 30.0) -> dict:
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


def _runtime_launch(runtime: dict, model_dir: pathlib.Path, name: str, ports: dict):
    """The command and environment a rendered ServingRuntime gives MLServer, as KServe runs it.

    KServe puts the model where the runtime expects ``/mnt/models`` and fills
    ``{{.Name}}`` with the InferenceService's name; here the model folder stands
    for ``/mnt/models`` and loopback ports for the pod's.
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
        MLSERVER_PARALLEL_WORKERS="0",  # MLServer's worker pool does not start here
    )
    return command, env


def check_serving(
    model_dir: pathlib.Path,
    rows_csv: pathlib.Path,
    mlserver: pathlib.Path = DEFAULT_MLSERVER,
    tolerance: float = 1e-9,
    startup_seconds: float = 90.0,
    runtime: dict = None,
    name: str = "model",
    method: str = "",
) -> dict:
    """Serves ``model_dir`` with MLServer on loopback and compares its answers with the model's.

    Args:
        model_dir: A model directory from the training pipeline.
        rows_csv: Rows to send (the model's feature columns; others are ignored).
        mlserver: The ``mlserver`` executable of the serving environment.
        tolerance: Largest difference allowed between served and local probabilities.
        startup_seconds: How long MLServer may take to load the model.
        runtime: A ServingRuntime as ``deploy_model`` renders it: MLServer then
            starts with exactly its container's command and environment, as
            KServe would start it. Without it, MLServer gets a settings folder
            of its own pointing at ``model.joblib``.
        name: The model's name, as the InferenceService's name in KServe.
        method: The model method to ask for; empty: ``predict_proba`` for a
            classifier, ``predict`` for a regressor. ``predict`` of a classifier
            answers its classes (at its own threshold), compared exactly.

    Returns:
        ``{"rows", "max_abs_difference", "predictions_equal", "served"}``; ``served``
        holds MLServer's answers: probabilities, classes, or a regressor's predictions.

    Raises:
        ServingCheckFailed: With the reason and the server log's path.
    """
    import os

    import numpy as np

    from components.features import select_features
    from components.shared import load_model_dir
    from components.tables import read_csv_table

    if not pathlib.Path(mlserver).exists():
        raise ServingCheckFailed(f"{mlserver} not found: run `make serving-env` first.")
    model_dir = pathlib.Path(model_dir).resolve()
    estimator, meta = load_model_dir(str(model_dir), str(model_dir))
    rows, _ = read_csv_table(str(rows_csv), str(rows_csv))
    typed = select_features(rows, meta["features"], str(rows_csv))  # as batch_predict types them
    regression = meta.get("task") == "regression"
    method = method or ("predict" if regression else "predict_proba")
    labels = method == "predict" and not regression
    expected = getattr(estimator, method)(typed)

    with tempfile.TemporaryDirectory(prefix="kfp-tabular-serving-") as folder:
        folder = pathlib.Path(folder)
        ports = dict(zip(("http_port", "grpc_port", "metrics_port"), free_ports(3), strict=True))
        if runtime is not None:
            command, env = _runtime_launch(runtime, model_dir, name, ports)
            command = [str(mlserver) if command[0] == "mlserver" else command[0], *command[1:]]
            env = {**os.environ, **env}
        else:
            settings = {"parallel_workers": 0, "host": "127.0.0.1", **ports}
            (folder / "settings.json").write_text(json.dumps(settings))
            model_settings = {
                "name": name,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": str(model_dir / "model.joblib")},
            }
            (folder / "model").mkdir()
            (folder / "model" / "model-settings.json").write_text(json.dumps(model_settings))
            command, env = [str(mlserver), "start", str(folder)], None
        log = pathlib.Path(tempfile.gettempdir()) / f"mlserver-{ports['http_port']}.log"
        with open(log, "w") as log_file:
            server = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
            base = f"http://127.0.0.1:{ports['http_port']}/v2/models/{name}"
            try:
                _wait_until_ready(base + "/ready", server, log, startup_seconds)
                try:
                    request = v2_request(typed, meta["features"], method)
                    answer = _post(base + "/infer", request)
                except urllib.error.HTTPError as error:
                    detail = error.read().decode(errors="replace")[:500]
                    raise ServingCheckFailed(
                        f"MLServer refused the request ({error.code}): {detail}"
                    ) from None
            finally:
                server.terminate()
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()

    (output,) = [o for o in answer["outputs"] if o["name"] == method]
    served = np.asarray(output["data"], dtype=None if labels else float).reshape(output["shape"])
    if regression or labels:
        served = served.reshape(-1)
    if labels:  # classes: equal or not
        same_classes = served.shape == expected.shape and bool((served == expected).all())
        difference = 0.0 if same_classes else math.inf
    else:
        difference = float(np.max(np.abs(served - expected))) if served.size else 0.0
        same_classes = regression or bool((served.argmax(axis=1) == expected.argmax(axis=1)).all())
    if served.shape != expected.shape or difference > tolerance or not same_classes:
        raise ServingCheckFailed(
            f"MLServer's {method} answers differ from the model's by up to {difference:.3g} "
            f"(shape {list(served.shape)} vs {list(expected.shape)}); log: {log}"
        )
    return {
        "rows": len(rows),
        "max_abs_difference": difference,
        "predictions_equal": same_classes,
        "served": served,
    }
