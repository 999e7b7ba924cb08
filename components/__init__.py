"""KFP v2 lightweight components for tabular classification and regression with scikit-learn.

Each component does one step and lives in its own module.
"""

from components.batch_predict import batch_predict
from components.bless_model import bless_model
from components.deploy_model import deploy_model
from components.detect_drift import detect_drift
from components.evaluate_model import evaluate_model
from components.export_model import export_model
from components.load_data import load_data
from components.record_rejection import record_rejection
from components.split_data import split_data
from components.train_model import train_model
from components.validate_data import validate_data

__all__ = [
    "batch_predict",
    "bless_model",
    "deploy_model",
    "detect_drift",
    "evaluate_model",
    "export_model",
    "load_data",
    "record_rejection",
    "split_data",
    "train_model",
    "validate_data",
]
