"""The pipelines as the command line runs them: the committed YAML while it is fresh.

Building a pipeline from Python costs the command line about 2 s: KFP calls
``inspect.stack()`` in every ``set_cpu_limit``-style call (kfp/dsl/pipeline_task.py,
``_ensure_container_spec_exists``), 52 calls here. Loading the compiled YAML
takes a tenth of that, and runs exactly what Kubeflow users run.

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
        from kfp import components

        return components.load_component_from_file(str(COMPILED / f"{name}.yaml"))
    import pipelines

    return getattr(pipelines, name)
