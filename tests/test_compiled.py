"""The compiled YAML: fresh, a valid PipelineSpec, the contract, and runnable when loaded back."""

import json
import pathlib

import pandas as pd
import pytest
import yaml
from google.protobuf import json_format
from kfp import components, dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from compile import DEFAULT_OUTPUT_DIR, compile_all
from components.memory import memory_bytes

COMPILED = DEFAULT_OUTPUT_DIR
ALL_YAML = sorted(COMPILED.rglob("*.yaml"))


def test_committed_yaml_matches_a_fresh_compile(tmp_path):
    fresh = compile_all(tmp_path)
    assert sorted(p.relative_to(tmp_path) for p in fresh) == sorted(
        p.relative_to(COMPILED) for p in COMPILED.rglob("*") if p.is_file()
    ), "compiled/ holds other files than compile.py writes: run `python compile.py` and commit"
    for path in fresh:
        committed = COMPILED / path.relative_to(tmp_path)
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale: run `python compile.py` and commit the result"
        )


def test_compiling_twice_gives_identical_bytes(tmp_path):
    first = [p.read_bytes() for p in compile_all(tmp_path / "a")]
    second = [p.read_bytes() for p in compile_all(tmp_path / "b")]
    assert first == second


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: p.name)
def test_every_file_parses_as_a_pipeline_spec(path):
    # A pipeline's file may hold a second document: its Kubernetes platform spec.
    first = next(yaml.safe_load_all(path.read_text()))
    spec = json_format.ParseDict(first, pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name
    assert spec.deployment_spec
    for component in spec.components.values():
        if component.executor_label:
            assert component.input_definitions.parameters or component.input_definitions.artifacts


def load_spec(name):
    return json_format.ParseDict(
        next(yaml.safe_load_all((COMPILED / name).read_text())), pipeline_spec_pb2.PipelineSpec()
    )


def test_training_pipeline_contract():
    spec = load_spec("training_pipeline.yaml")
    inputs = spec.root.input_definitions.parameters
    assert {"data_uri", "target_column"} <= set(inputs)
    assert not inputs["data_uri"].is_optional and not inputs["target_column"].is_optional
    for name in ("test_size", "random_state", "search_space", "selection_metric"):
        assert inputs[name].is_optional, f"{name} needs a default"
    outputs = spec.root.output_definitions.artifacts
    assert outputs["model"].artifact_type.schema_title == "system.Model"
    assert outputs["metrics"].artifact_type.schema_title == "system.Metrics"


def test_batch_prediction_pipeline_contract():
    spec = load_spec("batch_prediction_pipeline.yaml")
    inputs = spec.root.input_definitions.parameters
    required = {name for name, spec in inputs.items() if not spec.is_optional}
    assert required == {"model_uri", "data_uri"}
    assert {"max_psi", "max_new_category_share"} <= set(inputs)
    outputs = spec.root.output_definitions.artifacts
    assert set(outputs) == {"predictions"}
    assert outputs["predictions"].artifact_type.schema_title == "system.Dataset"


# The backend turns a PipelineSpec into one Argo Workflow, which must fit etcd's request limit
# (1.5 MiB by default); a v2 Workflow is ~3x its spec (kubeflow/pipelines#13738, #13422).
SPEC_BUDGET_BYTES = 400_000


@pytest.mark.parametrize("name", ["training_pipeline.yaml", "batch_prediction_pipeline.yaml"])
def test_a_pipeline_spec_fits_the_workflow_budget(name):
    documents = list(yaml.safe_load_all((COMPILED / name).read_text()))
    size = sum(len(json.dumps(document)) for document in documents)
    assert size < SPEC_BUDGET_BYTES, f"{name} is {size:,} bytes as JSON: embed less per step"


def test_component_descriptions_come_from_the_docstrings():
    train = components.load_component_from_file(str(COMPILED / "components" / "train_model.yaml"))
    assert train.description.startswith("Chooses the best of the candidate models")
    doc = yaml.safe_load((COMPILED / "components" / "train_model.yaml").read_text())
    outputs = doc["components"]["comp-train-model"]["outputDefinitions"]["artifacts"]
    assert "model.joblib" in outputs["model"]["description"]


def test_pipeline_yaml_runs_when_loaded_back(local_runner, iris_csv):
    training = components.load_component_from_file(str(COMPILED / "training_pipeline.yaml"))
    outputs = training(data_uri=str(iris_csv), target_column="species").outputs  # the defaults
    assert outputs["metrics"].metadata["accuracy"] > 0.85
    assert (pathlib.Path(outputs["model"].path) / "model.joblib").is_file()


def test_component_yaml_builds_another_pipeline(local_runner, iris_csv, tmp_path):
    """A team reusing only our component YAML, in a pipeline of its own."""
    load = {
        name: components.load_component_from_file(str(COMPILED / "components" / f"{name}.yaml"))
        for name in ("load_data", "split_data", "train_model", "batch_predict")
    }

    @dsl.pipeline
    def reuse(data_uri: str, new_rows_uri: str) -> dsl.Dataset:
        raw = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset)
        new_rows = dsl.importer(artifact_uri=new_rows_uri, artifact_class=dsl.Dataset)
        cleaned = load["load_data"](raw=raw.output, target_column="species")
        split = load["split_data"](
            data=cleaned.outputs["cleaned"], target_column="species", test_size=0.3
        )
        model = load["train_model"](
            train=split.outputs["train"],
            target_column="species",
            search_space=[{"model": "hist_gradient_boosting"}, {"n_estimators": 30}],
        )
        return load["batch_predict"](model=model.outputs["model"], data=new_rows.output).outputs[
            "predictions"
        ]

    new_rows = tmp_path / "new.csv"
    pd.read_csv(iris_csv).drop(columns="species").head(15).to_csv(new_rows, index=False)
    predictions = reuse(data_uri=str(iris_csv), new_rows_uri=str(new_rows)).output
    scored = pd.read_csv(predictions.path)
    assert (
        len(scored) == 15 and scored["prediction"].isin(["setosa", "versicolor", "virginica"]).all()
    )


def all_tasks(doc):
    """Every task of a compiled pipeline, inside conditions and loops too."""
    dags = [doc["root"], *doc["components"].values()]
    return {
        name: task for dag in dags for name, task in dag.get("dag", {}).get("tasks", {}).items()
    }


def test_task_settings_for_a_cluster():
    doc, platform = yaml.safe_load_all((COMPILED / "training_pipeline.yaml").read_text())
    tasks = all_tasks(doc)
    cached = {
        name for name, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")
    }
    assert {
        "validate-data",
        "split-data",
        "train-model",
        "evaluate-model",
    } <= cached
    # Steps reading a URI whose content may change, or writing outside, always run.
    for name in ("load-data", "bless-model", "export-model", "record-rejection"):
        assert name not in cached, name
    retried = {name for name, task in tasks.items() if "retryPolicy" in task}
    assert retried == {"export-model"}  # bad input elsewhere must fail fast
    executors = doc["deploymentSpec"]["executors"]
    for name in ("exec-train-model", "exec-evaluate-model"):
        resources = executors[name]["container"]["resources"]
        assert resources["resourceCpuRequest"] == "2"
    # Export and deploy get the keys of KFP's store, optional where the secret is absent.
    keyed = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    # bless_model reads baseline_model_uri itself.
    assert set(keyed) == {"exec-bless-model", "exec-export-model", "exec-deploy-model"}
    for settings in keyed.values():
        (secret,) = settings["secretAsEnv"]
        assert secret["secretName"] == "mlpipeline-minio-artifact" and secret["optional"]
        assert {k["envVar"] for k in secret["keyToEnv"]} == {"MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}


def test_memory_settings_are_pipeline_parameters_every_step_receives():
    doc, _ = yaml.safe_load_all((COMPILED / "training_pipeline.yaml").read_text())
    declared = doc["root"]["inputDefinitions"]["parameters"]
    defaults = {
        "light_memory_request": "2G",
        "light_memory_limit": "4G",
        "heavy_memory_request": "4G",
        "heavy_memory_limit": "8G",
        "max_train_rows": "auto",
    }
    for name, default in defaults.items():
        assert (
            declared[name]["parameterType"] == "STRING"
            and declared[name]["defaultValue"] == default
        )
    for name in ("light_memory_limit", "heavy_memory_limit"):  # the point is bounded work, not pods
        assert memory_bytes(declared[name]["defaultValue"], name) <= 8 * 2**30
    heavy_steps = {"train-model", "evaluate-model", "bless-model"}
    dags = [doc["root"], *doc["components"].values()]
    seen = set()
    for dag in dags:
        dag_inputs = dag.get("inputDefinitions", {}).get("parameters", {})
        for name, task in dag.get("dag", {}).get("tasks", {}).items():
            executor = doc["components"][task["componentRef"]["name"]].get("executorLabel")
            if not executor or name.startswith(("importer", "record-rejection")):
                continue
            resources = doc["deploymentSpec"]["executors"][executor]["container"]["resources"]
            kind = "heavy" if name in heavy_steps else "light"
            for field, setting in (("Request", "request"), ("Limit", "limit")):
                channel = f"pipelinechannel--{kind}_memory_{setting}"
                assert resources[f"resourceMemory{field}"] == (
                    f"{{{{$.inputs.parameters['{channel}']}}}}"
                ), (name, field)
                # Inside a condition the branch must hand the parameter down.
                source = task["inputs"]["parameters"][channel]["componentInputParameter"]
                assert source in (declared if dag is doc["root"] else dag_inputs), (name, source)
            seen.add(name)
    assert {"load-data", "train-model", "export-model", "deploy-model", "bless-model"} <= seen
    train = doc["root"]["dag"]["tasks"]["train-model"]["inputs"]["parameters"]
    assert train["declared_memory_limit"] == {"componentInputParameter": "heavy_memory_limit"}
    assert train["max_train_rows"] == {"componentInputParameter": "max_train_rows"}


def test_the_command_line_runs_the_committed_yaml_while_its_sources_are_unchanged(tmp_path):
    from kfp.dsl import yaml_component

    from pipelines import compiled

    assert compiled.is_fresh()
    loaded = compiled.load_pipeline("training_pipeline")
    assert isinstance(loaded, yaml_component.YamlComponent)
    assert loaded.name == "training-pipeline"
    # Parsed once with libyaml, it is what KFP's own loader gives.
    for name in ("training_pipeline", "batch_prediction_pipeline"):
        kfps = components.load_component_from_file(str(compiled.COMPILED / f"{name}.yaml"))
        ours = compiled.load_pipeline(name)
        assert ours.component_spec == kfps.component_spec
        assert ours.pipeline_spec == kfps.pipeline_spec
        assert ours.pipeline_spec is not ours.pipeline_spec  # a copy each time

    # An edited component not yet compiled: the YAML is stale, the CLI builds from Python.
    for pattern in compiled.SOURCES:
        for path in compiled.ROOT.glob(pattern):
            copy = tmp_path / path.relative_to(compiled.ROOT)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    assert compiled.is_fresh(root=tmp_path)
    edited = tmp_path / "components" / "train_model.py"
    edited.write_text(edited.read_text() + "\n# an edit\n")
    assert not compiled.is_fresh(root=tmp_path)
    assert not compiled.is_fresh(compiled=tmp_path)  # no manifest at all
