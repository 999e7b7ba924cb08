"""KFP v2 lightweight components for tabular classification with scikit-learn.

Each component does one step and lives in its own module.
"""

from components.batch_predict import batch_predict
from components.detect_drift import detect_drift
from components.evaluate_model import evaluate_model
from components.load_data import load_data
from components.split_data import split_data
from components.train_model import train_model
from components.validate_data import validate_data

__all__ = [
    "batch_predict",
    "detect_drift",
    "evaluate_model",
    "load_data",
    "split_data",
    "train_model",
    "validate_data",
]
