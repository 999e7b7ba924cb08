"""The one-file script teams run today, reproduced as the baseline.

Read the CSV, drop every row with a missing value, split 80/20, fit a default
RandomForestClassifier (one core), print accuracy and a classification report,
and joblib.dump the model.

Usage: python -m benchmarks.plain_script DATA.csv TARGET MODEL_PATH
"""

import sys

import joblib
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, classification_report
from sklearn.model_selection import train_test_split


def main(data_path: str, target: str, model_path: str) -> None:
    """Runs the baseline script end to end."""
    frame = pd.read_csv(data_path).dropna()
    features, labels = frame.drop(columns=[target]), frame[target]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.2, random_state=42
    )
    model = RandomForestClassifier().fit(x_train, y_train)
    predicted = model.predict(x_test)
    print(f"accuracy: {accuracy_score(y_test, predicted):.4f}")
    print(f"balanced accuracy: {balanced_accuracy_score(y_test, predicted):.4f}")
    print(classification_report(y_test, predicted))
    joblib.dump(model, model_path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
