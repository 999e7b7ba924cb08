"""A step on a bare pod: each package set installs into a fresh venv, and the step's imports work.

These run the real install prologue (components/runtime.py) in fresh venvs, with
this machine's package index; the cold-start figures, with no cache and no pip
configuration, are in ``benchmarks/cold_start.py``, not here.
"""

import functools
import http.server
import os
import pathlib
import subprocess
import sys
import threading
from importlib.metadata import packages_distributions

import pytest

import components
from components import runtime

SETS = {
    "NO_PINS": runtime.NO_PINS,
    "TABLE_PINS": runtime.TABLE_PINS,
    "MODEL_PINS": runtime.MODEL_PINS,
    "EXPORT_PINS": runtime.EXPORT_PINS,
}
# An optional import (inside try/except ImportError) that is the step's purpose.
PURPOSE = {"export_model": {"fsspec"}}
# pandas reads and writes Parquet through pyarrow, an import step_imports cannot see.
DYNAMIC = {"pandas": {"pyarrow"}}
UNTIL_THE_STEP = "_KFP_RUNTIME=true python3 -c 'import kfp.dsl.executor_main'"


def normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def needed_distributions(name: str) -> set[str]:
    modules = runtime.step_imports(step_function(name)) | PURPOSE.get(name, set())
    modules |= {extra for module in set(modules) for extra in DYNAMIC.get(module, ())}
    return {normal(dist) for module in modules for dist in packages_distributions()[module]}


def step_function(name: str):
    return getattr(components, name).python_func


def set_names(packages) -> set[str]:
    return {normal(pin.partition("==")[0]) for pin in packages}


@pytest.mark.parametrize("name", components.__all__)
def test_each_step_installs_the_smallest_set_that_holds_what_its_code_imports(name):
    needed = needed_distributions(name)
    declared = getattr(components, name).packages
    assert needed <= set_names(declared), f"{name} imports {needed - set_names(declared)}"
    smallest = next(
        label for label, packages in SETS.items() if needed <= set_names(packages)
    )  # fmt: skip
    assert declared == SETS[smallest], f"{name} needs only {smallest}"


def fresh_venv(tmp_path: pathlib.Path, env_changes: dict | None = None) -> dict:
    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env.update(PATH=f"{folder / 'bin'}:{env['PATH']}", **(env_changes or {}))
    return env


def run_prologue(script: str, program: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", "-c", script, "sh", "-ec", program], env=env, capture_output=True, text=True
    )


def installed(env: dict) -> set[str]:
    listed = subprocess.run(
        ["python3", "-m", "pip", "list", "--format=freeze"], env=env, capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    return {normal(line.partition("==")[0]) for line in listed} - {"pip", "setuptools"}


@pytest.mark.parametrize("label", SETS)
def test_a_package_set_installs_into_a_fresh_venv_and_its_steps_code_imports(tmp_path, label):
    packages = SETS[label]
    steps = [name for name in components.__all__ if getattr(components, name).packages == packages]
    imports = set().union(*(runtime.step_imports(step_function(s)) for s in steps))
    imports |= {"fsspec", "s3fs", "gcsfs", "adlfs"} if packages == runtime.EXPORT_PINS else set()
    program = f"""_KFP_RUNTIME=true python3 -c 'import kfp.dsl.executor_main, {
        ", ".join(sorted(imports | {"json"}))
    }'; echo step ran"""
    env = fresh_venv(tmp_path)
    done = run_prologue(runtime.install_prologue(packages), program, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.endswith("step ran\n")
    installer = "uv" if packages else "pip"  # kfp alone: pip is faster than bootstrapping uv
    assert f"installed {len(packages) + 1} packages with {installer}" in done.stderr
    # Only its own set and kfp: no uv (it was installed into a scratch folder), nothing else.
    assert installed(env) == set_names(packages) | {"kfp"}


SMALL_SET = ("six==1.17.0",)  # the smallest set uv installs, for the installer's own tests


def test_without_uv_the_step_installs_with_pip(tmp_path):
    script = runtime.install_prologue(SMALL_SET).replace(runtime.UV_PIN, "uv==0.0.0")
    env = fresh_venv(tmp_path)
    done = run_prologue(script, UNTIL_THE_STEP, env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "installing with pip instead of uv" in done.stderr
    assert "installed 2 packages with pip" in done.stderr
    assert installed(env) == {"kfp", "six"}


def test_the_step_skips_the_install_when_every_pin_is_present():
    env = {**os.environ, "PATH": f"{pathlib.Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = run_prologue(runtime.install_prologue(runtime.MODEL_PINS), "echo step ran", env)
    assert done.returncode == 0 and done.stdout == "step ran\n"
    assert done.stderr == ""  # neither uv nor pip ran


def test_a_failed_install_stops_the_step_with_one_line(tmp_path):
    script = runtime.install_prologue(("six==0.0.1",))  # no such version anywhere
    env = fresh_venv(tmp_path, {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path)})
    done = run_prologue(script, "echo step ran", env)
    assert done.returncode != 0 and "step ran" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("kfp-tabular: could not install the step packages")
    assert "PIP_INDEX_URL" in last and "image mode" in last


class IndexHandler(http.server.SimpleHTTPRequestHandler):
    """A PEP 503 simple index on loopback that records who asked for what."""

    requests: list

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests.append((self.path, self.headers.get("User-Agent", "")))
        super().do_GET()

    def log_message(self, *args):
        pass


def test_uv_uses_the_package_index_a_cluster_sets_for_pip(tmp_path):
    """An air-gapped cluster's mirror, given to pip as PIP_INDEX_URL, is the one uv reads."""
    wheels = tmp_path / "wheels"
    pins = [runtime.UV_PIN, *SMALL_SET, f"kfp=={runtime.KFP_VERSION}"]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), *pins],
        check=True,
    )  # fmt: skip
    index = tmp_path / "index"
    for wheel in wheels.iterdir():
        project = index / "simple" / normal(wheel.name.split("-")[0])
        project.mkdir(parents=True)
        (project / wheel.name).write_bytes(wheel.read_bytes())
        (project / "index.html").write_text(f'<a href="{wheel.name}">{wheel.name}</a>\n')
    requests = []
    handler = type("Handler", (IndexHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(index))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = fresh_venv(tmp_path)
        env = {key: value for key, value in env.items() if not key.startswith(("PIP_", "UV_"))}
        env.update(
            PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1",
            PIP_INDEX_URL=f"http://127.0.0.1:{server.server_port}/simple/",
            PIP_TRUSTED_HOST="127.0.0.1",
        )  # fmt: skip
        done = run_prologue(runtime.install_prologue(SMALL_SET), UNTIL_THE_STEP, env)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "installed 2 packages with uv" in done.stderr
    assert any(path.startswith("/simple/uv/") and "pip/" in agent for path, agent in requests)
    assert any(path.startswith("/simple/kfp/") and agent.startswith("uv/")
               for path, agent in requests)  # fmt: skip


def test_a_compiled_component_runs_on_the_local_runner_in_venv_mode(tmp_path, iris_csv, capfd):
    """Nearest to a pod here: a fresh venv for the task, its set installed, the step run."""
    import pandas as pd
    from kfp import components as loaded
    from kfp import dsl, local

    load_data = loaded.load_component_from_file(
        str(pathlib.Path(__file__).parent.parent / "compiled" / "components" / "load_data.yaml")
    )

    @dsl.pipeline
    def load_only(data_uri: str) -> dsl.Dataset:
        raw = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset)
        return load_data(raw=raw.output, target_column="species").outputs["cleaned"]

    runner = local.SubprocessRunner(use_venv=True)
    local.init(runner, pipeline_root=str(tmp_path), raise_on_error=True)
    cleaned = load_only(data_uri=str(iris_csv)).output
    assert len(pd.read_parquet(cleaned.path)) == 150
    installed_line = f"installed {len(runtime.TABLE_PINS) + 1} packages with uv"
    assert installed_line in "".join(capfd.readouterr())
