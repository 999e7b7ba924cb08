"""Helpers shared by several components.

Each helper is embedded, as source, into the components that list it in
``tabular_component(helpers=[...])``, so a compiled component YAML stands alone.
That is why every helper imports what it needs inside its own body and calls
no helper it does not list.

Helpers are documented with comments, not docstrings: when KFP loads a
component YAML back, it takes the first docstring in the embedded source as
the component's description, and the helpers come before the component.
"""


# Stops the step with one clear line instead of a traceback.
#
# Args:
#     message: What is wrong and what to do about it.
def fail(message: str):
    raise SystemExit(f"kfp-tabular error: {message}")


# Returns the hex sha256 of a file, read in 1 MiB blocks.
#
# Args:
#     path: File to hash.
def file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Reads a CSV file into a DataFrame, or stops with a clear error.
#
# Column names are stripped of surrounding spaces; a UTF-8 byte-order mark
# is accepted when ``encoding`` is utf-8.
#
# Args:
#     path: Local path of the file.
#     source: How to name the file in messages (its URI).
#     delimiter: Field separator.
#     encoding: Text encoding.
def read_csv_table(path: str, source: str, delimiter: str, encoding: str):
    import os

    import pandas as pd

    if not os.path.exists(path):
        fail(f"{source}: file not found. Check the data URI or path.")
    if os.path.isdir(path):
        fail(f"{source}: is a directory, not a CSV file. Point the data URI at the file.")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        fail(f"{source}: the file is empty. Provide a CSV with a header row and data rows.")
    if b"\x00" in head:
        fail(
            f"{source}: binary content, not CSV text (an Excel, Parquet or zip file, or UTF-16 "
            "text?). Export or re-save it as a UTF-8 CSV."
        )
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding=encoding, low_memory=False)
    except LookupError:
        fail(f"{source}: unknown encoding {encoding!r}. Use a Python codec name such as utf-8.")
    except UnicodeDecodeError as error:
        fail(
            f"{source}: not valid {error.encoding} text (byte {error.start}). "
            "Set the encoding option to the file's encoding, e.g. latin-1 or cp1252."
        )
    except pd.errors.EmptyDataError:
        fail(f"{source}: no columns found. Provide a CSV with a header row and data rows.")
    except (pd.errors.ParserError, ValueError) as error:
        reason = str(error).strip().splitlines()[-1]
        fail(
            f"{source}: not a readable CSV with delimiter {delimiter!r} ({reason}). "
            "Fix the file or set the delimiter option."
        )
    frame.columns = [str(name).strip() for name in frame.columns]
    duplicated = sorted({name for name in frame.columns if list(frame.columns).count(name) > 1})
    if duplicated:
        fail(f"{source}: duplicate column names {duplicated}. Rename them so each is unique.")
    if frame.empty:
        fail(f"{source}: a header but no data rows. Provide a CSV with data rows.")
    return frame


# Returns the model's feature columns, in training order, typed as in training.
#
# Numeric features become float64 (text in them is an error); categorical
# features become text, with missing values kept as NaN for the imputer.
#
# Args:
#     frame: DataFrame holding at least the feature columns, in any order.
#     features: ``[{"name": ..., "kind": "numeric" | "categorical"}, ...]``.
#     source: How to name the data in messages.
def select_features(frame, features: list, source: str):
    import pandas as pd

    missing = [feature["name"] for feature in features if feature["name"] not in frame.columns]
    if missing:
        fail(
            f"{source}: missing feature column(s) {missing} that the model was trained on. "
            "Add them (empty values are allowed) or score with a model trained without them."
        )
    columns = {}
    for feature in features:
        name = feature["name"]
        values = frame[name]
        if feature["kind"] == "numeric":
            numbers = pd.to_numeric(values, errors="coerce")
            text = values.notna() & numbers.isna()
            if text.any():
                row = text.to_numpy().nonzero()[0][0]
                fail(
                    f"{source}: column {name!r} must be numeric but holds text, e.g. "
                    f"{values.iloc[row]!r} in data row {row + 1}. Fix or empty those values."
                )
            columns[name] = numbers.astype("float64")
        else:
            if pd.api.types.is_float_dtype(values):
                # 3.0 read from a CSV names the same category as "3" in training.
                values = values.map(
                    lambda v: str(int(v)) if v.is_integer() else str(v), na_action="ignore"
                )
            columns[name] = values.map(str, na_action="ignore").astype(object)
    return pd.DataFrame(columns, index=frame.index)


# Loads a model directory written by ``train_model``, after checking it.
#
# Refuses a ``model.joblib`` whose sha256 differs from ``metadata.json`` (a
# changed or truncated file) and a model written by another scikit-learn
# version (joblib models only load reliably under the version that wrote them).
#
# Args:
#     path: Local path of the model directory.
#     source: How to name the model in messages (its URI).
#
# Returns:
#     ``(estimator, metadata)``: the fitted scikit-learn Pipeline and the metadata dict.
def load_model_dir(path: str, source: str):
    import json
    import os

    import joblib
    import sklearn

    model_file = os.path.join(path, "model.joblib")
    metadata_file = os.path.join(path, "metadata.json")
    if not (os.path.isfile(model_file) and os.path.isfile(metadata_file)):
        fail(
            f"{source}: not a model directory from training_pipeline (it needs model.joblib and "
            "metadata.json). Point the model URI at the 'model' output of a training run."
        )
    with open(metadata_file, encoding="utf-8") as handle:
        metadata = json.load(handle)
    digest = file_sha256(model_file)
    if digest != metadata.get("sha256"):
        fail(
            f"{source}: model.joblib has sha256 {digest[:12]}… but metadata.json records "
            f"{str(metadata.get('sha256'))[:12]}…: the file was changed or truncated. "
            "Copy the model directory again from its training run."
        )
    trained_with = metadata.get("framework_version")
    if trained_with != sklearn.__version__:
        fail(
            f"{source}: the model was written by scikit-learn {trained_with}, this environment "
            f"has {sklearn.__version__}. Retrain it, or score under scikit-learn=={trained_with}."
        )
    return joblib.load(model_file), metadata
