"""The training and batch-prediction pipelines, plus a command line to run them locally."""

from pipelines.batch_prediction_pipeline import batch_prediction_pipeline
from pipelines.training_pipeline import training_pipeline

__all__ = ["batch_prediction_pipeline", "training_pipeline"]
