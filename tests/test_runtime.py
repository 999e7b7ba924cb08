"""One set of pins: in runtime.py, pyproject.toml, the lock file, this environment and the YAML."""

import os
import pathlib
import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest
import yaml

from components import runtime

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPONENT_YAML = sorted((ROOT / "compiled" / "components").glob("*.yaml"))
KFP_PIN = f"kfp=={runtime.KFP_VERSION}"
KFP_KUBERNETES_PIN = f"kfp-kubernetes=={runtime.KFP_KUBERNETES_VERSION}"
ALL_PINS = [*runtime.RUNTIME_PINS, *runtime.STORAGE_PINS, KFP_PIN, KFP_KUBERNETES_PIN]


def test_pins_are_exact_and_equal_pyproject_lock_and_installed():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert sorted(pyproject["project"]["dependencies"]) == sorted(ALL_PINS)
    lock = set((ROOT / "requirements.lock").read_text().split())
    for pin in ALL_PINS:
        name, _, pinned = pin.partition("==")
        assert pinned, f"{pin} is not an exact pin"
        assert pin in lock, f"requirements.lock does not hold {pin}"
        assert version(name) == pinned, (
            f"installed {name} {version(name)} differs from the pin {pin}"
        )


@pytest.mark.parametrize("path", COMPONENT_YAML, ids=lambda p: p.stem)
def test_compiled_components_install_the_pins_on_kubeflow(path):
    doc = yaml.safe_load(path.read_text())
    (executor,) = doc["deploymentSpec"]["executors"].values()
    container = executor["container"]
    assert container["image"] == runtime.BASE_IMAGE
    assert container["command"][:2] == ["sh", "-c"]
    assert container["command"][2].lstrip().startswith(runtime.PROLOGUE_MARK)
    install = container["command"][2]
    pip_install = "python3 -m pip install --quiet --no-warn-script-location "
    # Only the step that writes to object storage installs the storage pins.
    extra = runtime.STORAGE_PINS if path.stem == "export_model" else ()
    expected = " ".join(f"'{pin}'" for pin in [*runtime.RUNTIME_PINS, *extra])
    assert pip_install + expected + "\n" in install
    assert f"--no-deps '{KFP_PIN}'" in install


def run_install_script(tmp_path, pins_check_args=None):
    """Runs the component prologue with a `python3` that logs its arguments.

    The logging python3 runs the real interpreter, except for `-m pip`, which it
    only records, so the test sees whether pip would run without installing.
    """
    calls = tmp_path / "calls.log"
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {calls}\n'
        'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    shim.chmod(0o755)
    script = runtime.INSTALL_IF_MISSING
    if pins_check_args:
        script = script.replace(*pins_check_args)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", "-c", script, "sh", "-c", "echo step ran"], env=env, capture_output=True, text=True
    )
    return done, calls.read_text()


def test_local_runs_skip_pip_when_the_pins_are_installed(tmp_path):
    done, calls = run_install_script(tmp_path)
    assert done.returncode == 0 and done.stdout == "step ran\n"
    assert "-m pip" not in calls
    assert "-c import os, sys" in calls  # the version check itself did run


@pytest.mark.parametrize(
    ("folder", "pin", "found"),
    [
        ("python_dateutil-2.9.0.post0.dist-info", "python-dateutil==2.9.0.post0", True),
        ("Zope.Interface-5.0.dist-info", "zope-interface==5.0", True),  # as older pips wrote it
        ("scikit_learn-1.9.0.dist-info", "scikit-learn==1.9.1", False),
        ("scikit_learn-1.9.1.egg-info", "scikit-learn==1.9.1", False),  # then pip itself checks it
    ],
)
def test_the_pin_check_reads_the_folders_pip_writes(tmp_path, folder, pin, found):
    (tmp_path / folder).mkdir()
    done = subprocess.run(
        [sys.executable, "-S", "-c", runtime._PIN_CHECK, pin],
        env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path,
    )  # fmt: skip
    assert (done.returncode == 0) is found


def test_a_failed_install_stops_the_step(tmp_path):
    calls = tmp_path / "calls.log"
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n'
        'if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then exit 1; fi\n'
        "exit 1\n"  # every pin check fails too
    )
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{shim.parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["sh", "-c", runtime.INSTALL_IF_MISSING, "sh", "-c", "echo step ran"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and "step ran" not in done.stdout


def test_a_missing_or_different_pin_makes_the_step_install(tmp_path):
    pin = runtime.RUNTIME_PINS[0]
    name, _, _ = pin.partition("==")
    done, calls = run_install_script(tmp_path, (f"'{pin}' ", f"'{name}==0.0.1' ", 1))
    assert done.returncode == 0 and done.stdout == "step ran\n"
    pip_calls = [line for line in calls.splitlines() if line.startswith("-m pip install")]
    assert len(pip_calls) == 2
    assert runtime.RUNTIME_PINS[-1] in pip_calls[0] and KFP_PIN in pip_calls[1]


def test_components_embed_the_shared_helpers_they_call_and_no_others():
    from components import (
        batch_predict,
        families,
        features,
        kserve,
        record_rejection,
        reports,
        selection,
        shared,
        storage,
        tasks,
    )  # fmt: skip

    helpers = runtime.shared_helpers(batch_predict.python_func)
    names = [helper.__name__ for helper in helpers]
    # read_model_metadata and file_sha256 are reached through load_model_dir,
    # object_store and fail_on_store through local_path.
    assert set(names) == {
        "fail", "file_sha256", "bounded", "read_csv_table", "close_column",
        "read_model_metadata", "load_model_dir", "select_features", "object_store",
        "fail_on_store", "local_path", "exit_quickly",
    }  # fmt: skip
    # Ordered by module, each after those it calls, then by line: deterministic YAML.
    modules = (shared, tasks, families, features, selection, storage, kserve, reports)
    order = [m.__name__ for m in modules]
    keys = [(order.index(h.__module__), h.__code__.co_firstlineno) for h in helpers]
    assert keys == sorted(keys)
    assert runtime.shared_helpers(record_rejection.python_func) == []
    source = batch_predict.component_spec.implementation.container.command[-1]
    assert "def load_model_dir(" in source and "def profile_column(" not in source
