"""kfp-tabular submit, against a fake Kubeflow Pipelines API on loopback that records requests."""

import http.server
import json
import pathlib
import re
import socket
import threading

import pytest
import yaml

from pipelines.cli import main

COMPILED = pathlib.Path(__file__).resolve().parent.parent / "compiled"


class FakeKfp(http.server.BaseHTTPRequestHandler):
    """Answers the calls kfp.Client makes to start a run; records each request."""

    requests: list = []
    refuse_runs_with = 0

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, payload = 200, {}
        if self.command == "GET" and self.path.startswith("/apis/v2beta1/experiments"):
            payload = {"experiments": []}
        elif self.command == "POST" and self.path == "/apis/v2beta1/experiments":
            payload = {"experiment_id": "exp-1", "display_name": body["display_name"]}
        elif self.command == "POST" and self.path == "/apis/v2beta1/runs":
            status = self.refuse_runs_with or 200
            payload = (
                {"error": "invalid runtime parameter"} if status != 200 else {"run_id": "run-1"}
            )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def kfp_api():
    FakeKfp.requests, FakeKfp.refuse_runs_with = [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKfp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", FakeKfp
    server.shutdown()


def header(request, name):
    return {k.lower(): v for k, v in request["headers"].items()}.get(name.lower())


TRAINING = ["--param", "data_uri=gs://bucket/customers.csv", "--param", "target_column=churned"]


def test_submit_uploads_the_compiled_pipeline_with_the_parameters(kfp_api, capsys):
    host, api = kfp_api
    code = main(
        ["submit", "--host", host, *TRAINING, "--param", "random_state=300",
         "--param", 'search_space=[{}, {"max_depth": 8}]', "--namespace", "team-a",
         "--experiment", "churn", "--run-name", "nightly", "--token", "tok-123"]
    )  # fmt: skip
    assert code == 0
    assert (
        f"Started run run-1 of training-pipeline: {host}/#/runs/details/run-1"
        in capsys.readouterr().out
    )
    (experiment,) = [
        r for r in api.requests if r["method"] == "POST" and r["path"].endswith("/experiments")
    ]
    assert experiment["body"] == {"display_name": "churn", "namespace": "team-a"}
    (run,) = [r for r in api.requests if r["path"] == "/apis/v2beta1/runs"]
    spec, platform = yaml.safe_load_all((COMPILED / "training_pipeline.yaml").read_text())
    assert run["body"]["pipeline_spec"] == {"pipeline_spec": spec, "platform_spec": platform}
    assert run["body"]["display_name"] == "nightly" and run["body"]["experiment_id"] == "exp-1"
    assert run["body"]["runtime_config"]["parameters"] == {
        "data_uri": "gs://bucket/customers.csv", "target_column": "churned", "random_state": 300,
        "search_space": [{}, {"max_depth": 8}],
    }  # fmt: skip
    assert header(run, "Authorization") == "Bearer tok-123"


def test_cookies_are_sent_as_they_are(kfp_api):
    host, api = kfp_api
    assert main(["submit", "--host", host, *TRAINING, "--cookies", "authservice_session=abc"]) == 0
    assert all(header(r, "Cookie") == "authservice_session=abc" for r in api.requests)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["--param", "target_column=churned"], r"needs parameter\(s\) \['data_uri'\]"),
        (
            [*TRAINING, "--param", "trees=5"],
            r"unknown parameter\(s\) \['trees'\] for training-pipeline",
        ),
        (
            [*TRAINING, "--param", "random_state=many"],
            "parameter 'random_state' must be Integer, got 'many'",
        ),
        ([*TRAINING, "--param", "random_state"], "--param 'random_state' is not NAME=VALUE"),
    ],
)
def test_bad_parameters_are_refused_before_anything_is_sent(kfp_api, capsys, params, message):
    host, api = kfp_api
    assert main(["submit", "--host", host, *params]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ")
    assert re.search(message, line), line
    assert api.requests == []


def test_an_unreachable_host_is_one_clear_line(capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["submit", "--host", f"http://127.0.0.1:{port}", *TRAINING]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        f"cannot reach Kubeflow Pipelines at http://127.0.0.1:{port}" in line and "--host" in line
    )


def test_a_refused_run_says_why(kfp_api, capsys):
    host, api = kfp_api
    api.refuse_runs_with = 400
    assert main(["submit", "--host", host, *TRAINING]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "refused the run (400)" in line and "invalid runtime parameter" in line
