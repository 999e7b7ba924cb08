"""Image mode: the Dockerfile holds our pins; image-mode YAML installs nothing and still runs."""

import json
import pathlib
import re

import yaml
from kfp import components

from compile import compile_all
from components import runtime

ROOT = pathlib.Path(__file__).resolve().parent.parent
IMAGE = "registry.example.com/kfp-tabular-runtime:0.1.0"


def test_dockerfile_installs_exactly_our_pins_on_our_base_image():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM (\S+)$", text, re.MULTILINE).group(1) == runtime.BASE_IMAGE
    pins = re.findall(r"'([A-Za-z0-9_.-]+==[^']+)'", text)
    expected = [*runtime.RUNTIME_PINS, *runtime.STORAGE_PINS, f"kfp=={runtime.KFP_VERSION}"]
    assert sorted(pins) == sorted(expected)
    assert f"--no-deps 'kfp=={runtime.KFP_VERSION}'" in text


def test_image_mode_yaml_runs_no_pip_and_uses_the_image(tmp_path):
    written = [path for path in compile_all(tmp_path, image=IMAGE) if path.suffix == ".yaml"]
    assert len(written) == len(list((ROOT / "compiled").rglob("*.yaml")))
    for path in written:
        doc = next(yaml.safe_load_all(path.read_text()))
        containers = [
            e["container"] for e in doc["deploymentSpec"]["executors"].values() if "container" in e
        ]
        assert containers, path
        for container in containers:
            assert container["image"] == IMAGE
            assert container["command"][:2] == ["sh", "-ec"]
            assert "pip install" not in json.dumps(container), path


def test_image_mode_pipeline_still_runs(local_runner, iris_csv, tmp_path):
    compile_all(tmp_path, image=IMAGE)
    training = components.load_component_from_file(str(tmp_path / "training_pipeline.yaml"))
    outputs = training(data_uri=str(iris_csv), target_column="species", search_space=[{}]).outputs
    assert outputs["metrics"].metadata["accuracy"] > 0.85
