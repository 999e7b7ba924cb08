"""One set of pins: in runtime.py, pyproject.toml, the lock file, this environment and the YAML."""

import pathlib
import tomllib
from importlib.metadata import requires, version

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
def test_compiled_components_install_their_own_package_set_on_kubeflow(path):
    import components

    doc = yaml.safe_load(path.read_text())
    (executor,) = doc["deploymentSpec"]["executors"].values()
    container = executor["container"]
    assert container["image"] == runtime.BASE_IMAGE
    assert container["command"][:2] == ["sh", "-c"]
    install = container["command"][2]
    assert install.lstrip().startswith(runtime.PROLOGUE_MARK)
    packages = getattr(components, path.stem).packages
    sets = (runtime.NO_PINS, runtime.TABLE_PINS, runtime.MODEL_PINS, runtime.EXPORT_PINS)
    assert packages in sets
    words = " ".join(f"'{pin}'" for pin in [*packages, KFP_PIN])
    assert f"python3 - {words} <<'KFP_TABULAR_INSTALLER'\n" in install
    assert (runtime.UV_PIN in install) == bool(packages)  # kfp alone installs with pip


def test_the_package_sets_are_whole_closures_of_the_pins():
    """Installed --no-deps, a set must hold every dependency its packages declare."""
    from packaging.requirements import Requirement

    def normal(name):
        return name.lower().replace("_", "-").replace(".", "-")

    for packages in (runtime.TABLE_PINS, runtime.MODEL_PINS, runtime.EXPORT_PINS):
        names = {normal(pin.partition("==")[0]) for pin in packages}
        for pin in packages:
            for text in requires(pin.partition("==")[0]) or []:
                needed = Requirement(text)
                if needed.marker and not needed.marker.evaluate({"extra": ""}):
                    continue
                assert normal(needed.name) in names, f"{pin} needs {needed}, not in its set"


def test_the_model_pins_are_equal_wherever_a_model_is_written_or_read():
    import components

    for name in ("train_model", "evaluate_model", "bless_model", "batch_predict"):
        assert getattr(components, name).packages == runtime.MODEL_PINS, name
    model = {"scikit-learn", "numpy", "scipy", "joblib"}
    for packages in (runtime.TABLE_PINS, runtime.EXPORT_PINS):
        for pin in packages:  # a lighter set holds the model pins' versions or none of them
            name, _, pinned = pin.partition("==")
            assert name not in model or pin in runtime.MODEL_PINS


def test_components_embed_the_shared_helpers_they_call_and_no_others():
    from components import (
        batch_predict,
        ensembles,
        families,
        features,
        kserve,
        record_rejection,
        reports,
        scoring,
        selection,
        shared,
        storage,
        tables,
        tasks,
        training_options,
        versions,
    )  # fmt: skip

    helpers = runtime.shared_helpers(batch_predict.python_func)
    names = [helper.__name__ for helper in helpers]
    # read_model_metadata and file_sha256 are reached through load_model_dir,
    # object_store and fail_on_store through local_path, the reading of parts
    # through iter_table, the choice of a version through model_path (and
    # local_model), the download of an imported URI through local_path; the
    # whole-table reader (pandas) is not embedded.
    assert set(names) == {
        "fail", "file_sha256", "bounded", "close_column", "read_model_metadata",
        "load_model_dir", "select_features", "object_store", "fail_on_store", "local_path",
        "exit_quickly", "idle_threads_sleep", "csv_options", "header_names", "table_parts",
        "open_part",
        "part_format", "part_schema", "csv_blocks", "skipped", "iter_table", "prepare_rows",
        "typed_rows",  # shared with the serving runtime (serving/runtime.py)
        "score_rows", "predict_rows", "transform_rows",
        "scoring_counts", "merge_counts", "describe_scoring", "open_writer",
        "model_path", "local_model", "model_folder", "is_version_name", "read_layout",
        "download",
    }  # fmt: skip
    # Ordered by module, each after those it calls, then by line: deterministic YAML.
    modules = (
        shared, tasks, families, features, ensembles, selection, training_options, storage,
        versions, tables, scoring, kserve, reports,
    )  # fmt: skip
    order = [m.__name__ for m in modules]
    keys = [(order.index(h.__module__), h.__code__.co_firstlineno) for h in helpers]
    assert keys == sorted(keys)
    assert runtime.shared_helpers(record_rejection.python_func) == []
    source = batch_predict.component_spec.implementation.container.command[-1]
    assert "def load_model_dir(" in source and "def profile_column(" not in source


def test_the_embedded_code_loses_docstrings_comments_and_blank_lines_only():
    source = '''def helper(x):
    """Doubles x.

    Args:
        x: A number.
    """
    # a comment that says why
    text = """
    # not a comment: inside a string

    """

    return 2 * x  # fmt: skip


def only_a_docstring():
    """Kept: without it the body would be empty."""
'''
    cut = runtime.without_docstrings(source)
    assert "Doubles" not in cut and "# a comment that says why" not in cut
    assert "# not a comment: inside a string\n\n" in cut  # a string's blank line stays
    assert "    return 2 * x\n" in cut and "fmt: skip" not in cut
    assert "\n\n    return" not in cut
    assert "Kept: without it" in cut
    namespace = {}
    exec(compile(cut, "<embedded>", "exec"), namespace)
    assert namespace["helper"](3) == 6
