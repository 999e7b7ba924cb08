"""The pipelines as the command line runs them: the committed YAML while it is fresh.

Building a pipeline from Python costs the command line about 2 s: KFP calls
``inspect.stack()`` in every ``set_cpu_limit``-style call (kfp/dsl/pipeline_task.py,
``_ensure_container_spec_exists``), 52 calls here. Loading the compiled YAML
runs exactly what Kubeflow users run, and takes 0.05 s when parsed once with
libyaml: KFP's ``load_component_from_file`` parses it with pure-Python PyYAML
(0.5 s for the 370 KB training pipeline, measured), and again every time the
runner reads ``pipeline_spec``.

``compile.py`` records the sha256 of every file the YAML is built from in
``compiled/sources.sha256``. While they all match, the command line loads the
YAML; after an edit that has not been compiled yet, it builds from Python, so
a change is never run stale.
"""

import functools
import hashlib
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPILED = ROOT / "compiled"
MANIFEST = "sources.sha256"
# What the compiled YAML is made from (the kfp version is pinned).
SOURCES = ("components/*.py", "pipelines/*_pipeline.py", "pipelines/task_settings.py")


def source_digests(root: pathlib.Path = ROOT) -> str:
    """The manifest's text: ``<sha256>  <path>`` for every source file, sorted by path."""
    paths = sorted({path for pattern in SOURCES for path in root.glob(pattern)})
    return "".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root).as_posix()}\n"
        for path in paths
    )


def is_fresh(root: pathlib.Path = ROOT, compiled: pathlib.Path = COMPILED) -> bool:
    """Whether the compiled YAML was built from the source files as they are now."""
    manifest = compiled / MANIFEST
    return manifest.is_file() and manifest.read_text(encoding="utf-8") == source_digests(root)


@functools.cache
def load_pipeline(name: str):
    """The pipeline ``name`` (e.g. "training_pipeline"): its committed YAML if fresh, else built.

    Both are callable on the local runner with the same parameters, and both
    have the same ``name`` and ``component_spec.inputs``.
    """
    if is_fresh():
        return load_yaml_component(COMPILED / f"{name}.yaml")
    import pipelines

    return getattr(pipelines, name)


def load_yaml_component(path: pathlib.Path):
    """``kfp.components.load_component_from_file``, with the YAML parsed once, by libyaml.

    The same ``ComponentSpec`` and ``pipeline_spec`` (a test compares them).
    Built as KFP builds it (kfp/components/load_yaml_utilities.py,
    kfp/dsl/yaml_component.py), from documents parsed with ``CSafeLoader``.
    """
    import yaml
    from google.protobuf import json_format
    from kfp.dsl import structures, yaml_component
    from kfp.pipeline_spec import pipeline_spec_pb2

    class ParsedOnce(yaml_component.YamlComponent):
        @property
        def pipeline_spec(self) -> pipeline_spec_pb2.PipelineSpec:
            spec = pipeline_spec_pb2.PipelineSpec()
            spec.CopyFrom(parsed)  # a copy: the caller may change it
            return spec

    text = path.read_text(encoding="utf-8")
    pipeline, *platform = yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    parsed = json_format.ParseDict(pipeline, pipeline_spec_pb2.PipelineSpec())
    spec = structures.ComponentSpec.from_ir_dicts(pipeline, platform[0] if platform else {})
    if not spec.description:  # from the header comments, as kfp/dsl/structures.py reads it
        lines = text.splitlines()
        heading, more = "# Description: ", "#             "
        if len(lines) > 2 and lines[2].startswith(heading):
            spec.description = lines[2][len(heading) :]
            for line in lines[3:]:
                if not line.startswith(more):
                    break
                spec.description += "\n" + line[len(more) + 1 :]
    return ParsedOnce(component_spec=spec, component_yaml=text)
