"""The training and batch-prediction pipelines, plus a command line to run them locally."""

from pipelines.batch_prediction import batch_prediction_pipeline
from pipelines.training import training_pipeline

__all__ = ["batch_prediction_pipeline", "training_pipeline"]
