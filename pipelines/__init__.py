"""The training and batch-prediction pipelines, plus a command line to run them locally.

The pipelines are built on first use (``pipelines.training_pipeline``), not on
import: building one costs about 2 s, which the command line avoids by loading
the compiled YAML (``pipelines/compiled.py``).
"""

import importlib

__all__ = ["batch_prediction_pipeline", "training_pipeline"]


def __getattr__(name: str):
    if name in __all__:
        # Importing the module binds its name here to the module: bind the pipeline instead.
        globals()[name] = getattr(importlib.import_module(f"pipelines.{name}"), name)
        return globals()[name]
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
