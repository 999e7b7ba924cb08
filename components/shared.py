"""Helpers shared by several components.

``tabular_component`` embeds, as source, each helper a component calls
(directly or through another helper) into that component, so a compiled
component YAML stands alone. That is why every helper imports what it needs
inside its own body, and refers to other helpers only by calling them.

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


# Bounds artifact metadata, which grows with the data unless capped.
#
# KFP passes the executor input, input artifacts' metadata included, as one
# command-line argument (in a pod and on the local runner): an argument over
# 128 KiB stops the step with "Argument list too long", and ML Metadata limits
# sizes too. So every list or dict keeps its first ``limit`` entries and every
# text its first 200 characters, each cut marked ("… N more"). Metadata is a
# summary for a person in the UI; the detail is a file in the artifact or a report.
#
# Args:
#     value: Metadata value: dict, list, text, number.
#     limit: Most entries kept of each list or dict.
def bounded(value, limit: int = 20):
    if isinstance(value, dict):
        items = [(str(key)[:200], bounded(item, limit)) for key, item in value.items()]
        kept = dict(items[:limit])
        if len(items) > limit:
            kept["…"] = f"{len(items) - limit} more"
        return kept
    if isinstance(value, (list, tuple)):
        kept = [bounded(item, limit) for item in value[:limit]]
        return kept + [f"… {len(value) - limit} more"] if len(value) > limit else kept
    if isinstance(value, str) and len(value) > 200:
        return value[:199] + "…"
    return value


# Reads a CSV file into a DataFrame, or stops with a clear error.
#
# "auto" options are detected from the first 64 KiB: the encoding (UTF-16 or
# UTF-32 when a byte-order mark says so; else UTF-8, with or without a
# byte-order mark, else Windows-1252, else Latin-1), the
# delimiter (the one of , ; tab | that splits every sampled line into the same
# number of fields, the most fields winning) and the decimal mark (a comma when
# numbers like 3,14 outnumber numbers like 3.14, with "." then read as the
# thousands separator). Column names are stripped of surrounding spaces.
#
# Args:
#     path: Local path of the file.
#     source: How to name the file in messages (its URI).
#     delimiter: Field separator, or "auto".
#     decimal: Decimal mark ("." or ","), or "auto".
#     encoding: Text encoding (a Python codec name), or "auto".
#
# Returns:
#     (frame, options): the table, and the delimiter, decimal, thousands and
#     encoding it was read with.
def read_csv_table(path: str, source: str, delimiter="auto", decimal="auto", encoding="auto"):
    import codecs
    import collections
    import csv
    import os
    import re

    import pandas as pd

    if not os.path.exists(path):
        fail(f"{source}: file not found. Check the data URI or path.")
    if os.path.isdir(path):
        fail(f"{source}: is a directory, not a CSV file. Point the data URI at the file.")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        fail(f"{source}: the file is empty. Provide a CSV with a header row and data rows.")
    # A UTF-16 or UTF-32 byte-order mark says the encoding unambiguously.
    if encoding == "auto" and head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif encoding == "auto" and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    if encoding == "auto" and b"\x00" in head:  # a forced encoding is taken at its word
        fail(
            f"{source}: binary content, not CSV text (an Excel, Parquet or zip file, or UTF-16 "
            "text without a byte-order mark?). Export it as a UTF-8 CSV, or set the encoding "
            "option (e.g. utf-16-le)."
        )

    if encoding == "auto":
        encodings = ["utf-8-sig", "cp1252", "latin-1"]
    elif encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encodings = ["utf-8-sig"]  # also accepts a byte-order mark
    else:
        encodings = [encoding]
    text = None
    for candidate in list(encodings):
        try:
            text = codecs.getincrementaldecoder(candidate)().decode(head, final=False)
            break
        except LookupError:
            fail(f"{source}: unknown encoding {candidate!r}. Use a codec name such as utf-8.")
        except UnicodeDecodeError:
            encodings.remove(candidate)
    if text is None:
        fail(
            f"{source}: not valid {encoding} text. Set the encoding option to the file's "
            "encoding, e.g. latin-1 or cp1252, or to auto."
        )

    sampled = text.splitlines()
    if len(head) == 1 << 16 and len(sampled) > 1:
        sampled = sampled[:-1]  # the last line may be cut short
    lines = [line for line in sampled if line.strip()][:50]
    if delimiter == "auto":
        widths = {}
        for candidate in (",", ";", "\t", "|"):
            counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
            widths[candidate] = (len(set(counts)) == 1, counts[0] if counts else 1)
        consistent = [c for c, (same, width) in widths.items() if same and width > 1]
        pool = consistent or [c for c, (_, width) in widths.items() if width > 1] or [","]
        delimiter = max(pool, key=lambda c: widths.get(c, (True, 1))[1])
    thousands = None
    if decimal == "auto":
        fields = [f.strip() for row in csv.reader(lines[1:], delimiter=delimiter) for f in row]
        comma_numbers = sum(bool(re.fullmatch(r"[-+]?\d[\d.]*,\d+", f)) for f in fields)
        dot_numbers = sum(bool(re.fullmatch(r"[-+]?\d*\.\d+", f)) for f in fields)
        decimal = "," if delimiter != "," and comma_numbers > dot_numbers else "."
    if decimal == ",":
        thousands = "."

    options = {"delimiter": delimiter, "decimal": decimal, "thousands": thousands}
    frame = None
    for candidate in encodings:
        try:
            frame = pd.read_csv(
                path,
                sep=delimiter,
                decimal=decimal,
                thousands=thousands,
                encoding=candidate,
                low_memory=False,
            )
            options["encoding"] = candidate
            break
        except UnicodeDecodeError as error:
            last_error = error
        except pd.errors.EmptyDataError:
            fail(f"{source}: no columns found. Provide a CSV with a header row and data rows.")
        except (pd.errors.ParserError, ValueError) as error:
            reason = str(error).strip().splitlines()[-1]
            fail(
                f"{source}: not a readable CSV with delimiter {delimiter!r} ({reason}). "
                "Fix the file or set the delimiter option."
            )
    if frame is None:
        fail(
            f"{source}: not valid {last_error.encoding} text (byte {last_error.start}). "
            "Set the encoding option to the file's encoding, e.g. latin-1 or cp1252."
        )
    # pandas renames a repeated header ("a", "a.1"), so count the names as written.
    with open(path, encoding=options["encoding"], newline="") as handle:
        header = next(csv.reader(handle, delimiter=delimiter), [])
    if options["encoding"] == "utf-8-sig":
        options["encoding"] = "utf-8"
    frame.columns = [str(name).strip() for name in frame.columns]
    names = (
        [name.strip() for name in header] if len(header) == len(frame.columns) else frame.columns
    )
    duplicated = sorted(name for name, count in collections.Counter(names).items() if count > 1)
    if duplicated:
        fail(f"{source}: duplicate column names {duplicated}. Rename them so each is unique.")
    if frame.empty:
        fail(f"{source}: a header but no data rows. Provide a CSV with data rows.")
    return frame, options


# The date format of a text column, or "" when it does not hold dates.
#
# Tried on up to 200 of its values, which must look like dates (digits split
# by - / or .): ISO 8601 (dates, times, offsets), then day-first, month-first
# forms, with or without a time. The format that parses the most
# values wins (day-first before month-first on a tie), if it parses 95%.
#
# Args:
#     values: A column of text.
def date_format(values) -> str:
    import warnings

    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return ""
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return ""
    sample = present.sample(200, random_state=0) if len(present) > 200 else present
    if sample.str.match(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").mean() < 0.95:
        return ""
    days = [f"{d}{sep}{m}{sep}%Y" for sep in "/.-" for d, m in (("%d", "%m"), ("%m", "%d"))]
    candidates = ["ISO8601"] + [day + time for day in days for time in ("", " %H:%M", " %H:%M:%S")]
    best, best_share = "", 0.0
    for candidate in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, format=candidate, errors="coerce", utc=True)
        if parsed.notna().mean() > best_share:
            best, best_share = candidate, parsed.notna().mean()
    return best if best_share >= 0.95 else ""


# Decides which columns are features and of which kind, from their pandas types.
#
# Numeric types (not booleans) are "numeric"; text holding dates (see
# ``date_format``) is "datetime", with its ``format`` and the date ``parts`` the
# model will use (the hour too when the values have times); text, booleans and
# anything else are "categorical". The target and the excluded columns are left out.
#
# Returns:
#     ``[{"name": ..., "kind": ...}, ...]`` in column order.
def infer_features(frame, target_column: str, exclude_columns=()) -> list:
    import pandas as pd

    features = []
    for name, dtype in frame.dtypes.items():
        if name == target_column or name in exclude_columns:
            continue
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            features.append({"name": name, "kind": "numeric"})
            continue
        found = date_format(frame[name])
        if not found:
            features.append({"name": name, "kind": "categorical"})
            continue
        parts = ["year", "month", "day_of_week", "day_of_year"]
        parsed = pd.to_datetime(frame[name], format=found, errors="coerce", utc=True).dropna()
        if (parsed.dt.hour != 0).any() or (parsed.dt.minute != 0).any():
            parts.append("hour")
        features.append({"name": name, "kind": "datetime", "format": found, "parts": parts})
    return features


# The column whose name differs from ``name`` only in case or surrounding spaces, or None.
#
# Args:
#     name: The name asked for.
#     columns: The names there are.
def close_column(name: str, columns):
    wanted = str(name).strip().casefold()
    return next((str(c) for c in columns if str(c).strip().casefold() == wanted), None)


# Returns the model's feature columns, in training order, typed as in training.
#
# Numeric features become float64 (text in them is an error); categorical and
# datetime features become text (the model parses dates itself), with missing
# values kept as NaN for the imputer.
#
# Args:
#     frame: DataFrame holding at least the feature columns, in any order.
#     features: ``[{"name": ..., "kind": "numeric" | "categorical" | "datetime"}, ...]``.
#     source: How to name the data in messages.
def select_features(frame, features: list, source: str):
    import numpy as np
    import pandas as pd

    missing = [feature["name"] for feature in features if feature["name"] not in frame.columns]
    if missing:
        near = {name: close_column(name, frame.columns) for name in missing}
        near = {name: found for name, found in near.items() if found}
        fail(
            f"{source}: missing feature column(s) {bounded(missing)} that the model was trained "
            "on"
            + (f"; did you mean {bounded(near)} (names differ in case or spaces)" * bool(near))
            + ". Add them (empty values are allowed) or score with a model trained without them."
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
            too_large = numbers.abs() > np.finfo(np.float32).max  # also catches inf
            if too_large.any():
                row = too_large.to_numpy().nonzero()[0][0]
                shown = values.iloc[row]
                shown = repr(shown) if isinstance(shown, str) else float(shown)
                fail(
                    f"{source}: column {name!r} holds {shown} in data row {row + 1}, "
                    "beyond what the model can use (±3.4e38). Replace it or leave it empty."
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


# Builds the unfitted model: preprocessing, then a RandomForestClassifier on all cores.
#
# Numeric features: missing values become the training median. Datetime
# features: parsed with their format, then their parts (year, month, day of
# week, day of year, hour where present) and the days elapsed since
# 1970-01-01, with unparseable values as gaps filled by the median. The steps
# are pandas and standard-library functions (methodcaller, attrgetter), so the
# saved model loads wherever pandas does, MLServer included, with none of our
# code. Other features: missing values become "missing", then one-hot encoding
# (the 49 most frequent categories of a column get their own column, rarer and
# unseen ones share one).
#
# Args:
#     features: ``[{"name": ..., "kind": ...}, ...]`` from ``infer_features``.
#     hyperparameters: Any of n_estimators (100), max_depth (0 = no limit),
#         min_samples_leaf (1), class_weight ("none", "balanced",
#         "balanced_subsample"), max_features ("sqrt", "log2", or a share of
#         the columns). Whole numbers may arrive as floats (KFP dicts do that).
#     random_state: Seed for the forest.
#
# Returns:
#     ``(pipeline, settings)``: the scikit-learn Pipeline and the full,
#     normalised hyperparameters it uses.
def build_model(features: list, hyperparameters: dict, random_state: int):
    from operator import attrgetter, methodcaller

    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    defaults = {
        "n_estimators": 100,
        "max_depth": 0,
        "min_samples_leaf": 1,
        "class_weight": "none",
        "max_features": "sqrt",
    }
    unknown = sorted(set(hyperparameters) - set(defaults))
    if unknown:
        fail(f"unknown hyperparameter(s) {unknown}; use any of {list(defaults)}.")
    settings = {**defaults, **hyperparameters}
    for name, lowest in (("n_estimators", 1), ("max_depth", 0), ("min_samples_leaf", 1)):
        value = settings[name]
        if not isinstance(value, (int, float)) or value != int(value) or value < lowest:
            fail(f"{name} must be a whole number of at least {lowest}, got {value!r}.")
        settings[name] = int(value)
    if settings["class_weight"] not in ("none", "balanced", "balanced_subsample"):
        fail(
            "class_weight must be one of ['none', 'balanced', 'balanced_subsample'], "
            f"got {settings['class_weight']!r}."
        )
    share = settings["max_features"]
    if share not in ("sqrt", "log2") and not (isinstance(share, (int, float)) and 0 < share <= 1):
        fail(f"max_features must be 'sqrt', 'log2' or a share in (0, 1], got {share!r}.")
    if isinstance(share, (int, float)):
        settings["max_features"] = float(share)

    def date_parts(feature):
        def step(function):
            return FunctionTransformer(function)

        parse = methodcaller(
            "apply", pd.to_datetime, format=feature["format"], errors="coerce", utc=True
        )
        parts = [
            (part, step(methodcaller("apply", attrgetter(f"dt.{part}"))))
            for part in feature["parts"]
        ]
        elapsed = make_pipeline(
            step(methodcaller("__sub__", pd.Timestamp("1970-01-01", tz="UTC"))),
            step(methodcaller("apply", attrgetter("dt.days"))),
        )
        return make_pipeline(
            step(parse),
            FeatureUnion([*parts, ("elapsed_days", elapsed)]),
            SimpleImputer(strategy="median", keep_empty_features=True),
        )

    dates = [
        (f"datetime_{i}", date_parts(feature), [feature["name"]])
        for i, feature in enumerate(features)
        if feature["kind"] == "datetime"
    ]
    preprocess = ColumnTransformer(
        [
            *dates,
            (
                "numeric",
                SimpleImputer(strategy="median", keep_empty_features=True),
                [f["name"] for f in features if f["kind"] == "numeric"],
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(
                        strategy="constant", fill_value="missing", keep_empty_features=True
                    ),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", max_categories=50, sparse_output=False
                    ),
                ),
                [f["name"] for f in features if f["kind"] == "categorical"],
            ),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=settings["n_estimators"],
        max_depth=settings["max_depth"] or None,
        min_samples_leaf=settings["min_samples_leaf"],
        class_weight=None if settings["class_weight"] == "none" else settings["class_weight"],
        max_features=settings["max_features"],
        random_state=random_state,
        n_jobs=-1,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", forest)]), settings


# The classification metrics, from the true classes and predicted probabilities.
#
# Args:
#     truth: True classes (array-like).
#     proba: Predicted probabilities, one column per class of ``classes``.
#     classes: The model's classes, in its column order.
#
# Returns:
#     A dict: accuracy, balanced_accuracy, precision_macro, recall_macro,
#     f1_macro, log_loss, and roc_auc when the rows hold every class (binary,
#     or one-vs-rest macro average).
def score_predictions(truth, proba, classes) -> dict:
    import warnings

    import numpy as np
    from sklearn import metrics as sk

    truth = np.asarray(truth)
    predicted = np.asarray(classes)[np.asarray(proba).argmax(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. a class absent from these rows
        scores = {
            "accuracy": sk.accuracy_score(truth, predicted),
            "balanced_accuracy": sk.balanced_accuracy_score(truth, predicted),
            "precision_macro": sk.precision_score(
                truth, predicted, average="macro", zero_division=0
            ),
            "recall_macro": sk.recall_score(truth, predicted, average="macro", zero_division=0),
            "f1_macro": sk.f1_score(truth, predicted, average="macro", zero_division=0),
            "log_loss": sk.log_loss(truth, proba, labels=classes),
        }
        if set(classes) <= set(truth):
            if len(classes) == 2:
                scores["roc_auc"] = sk.roc_auc_score(truth == classes[1], proba[:, 1])
            else:
                scores["roc_auc"] = sk.roc_auc_score(
                    truth, proba, multi_class="ovr", average="macro", labels=classes
                )
    return {name: float(value) for name, value in scores.items()}


# Describes one column, for the model's schema, the validation report and drift.
#
# Args:
#     values: The column, typed as ``select_features`` types it.
#     kind: "numeric" or "categorical".
#     bin_edges: Inner edges of the numeric bins; default: the column's deciles.
#     date_format: The format of a datetime column.
#
# Returns:
#     A JSON-ready dict: kind, dtype, missing_rate, unique; for numeric columns
#     min, max, mean, bin_edges and bin_shares (the share of values in each bin);
#     for categorical ones the categories seen with their counts (the 1000 most
#     frequent) and other_count (how many values fell outside those); for
#     datetime ones the first and last dates and unparseable (values present
#     that do not parse, counted as missing in missing_rate).
def profile_column(values, kind: str, bin_edges=None, date_format=""):
    import numpy as np
    import pandas as pd

    present = values.dropna()
    profile = {
        "kind": kind,
        "dtype": str(values.dtype),
        "missing_rate": round(1 - len(present) / len(values), 6) if len(values) else 0.0,
        "unique": int(present.nunique()),
    }
    if kind == "numeric":
        numbers = present.to_numpy(dtype=float)
        if bin_edges is None:
            deciles = np.quantile(numbers, np.linspace(0, 1, 11)[1:-1]) if len(numbers) else []
            bin_edges = np.unique(deciles).tolist()
        counts = np.bincount(
            np.searchsorted(bin_edges, numbers, side="right"), minlength=len(bin_edges) + 1
        )
        profile["bin_edges"] = [float(edge) for edge in bin_edges]
        profile["bin_shares"] = (counts / max(len(numbers), 1)).round(6).tolist()
        if len(numbers):
            profile.update(
                min=float(numbers.min()), max=float(numbers.max()), mean=float(numbers.mean())
            )
    elif kind == "datetime":
        parsed = pd.to_datetime(present, format=date_format, errors="coerce", utc=True).dropna()
        profile["unparseable"] = len(present) - len(parsed)
        profile["missing_rate"] = round(1 - len(parsed) / len(values), 6) if len(values) else 0.0
        if len(parsed):
            profile.update(min=parsed.min().isoformat(), max=parsed.max().isoformat())
    else:
        counts = present.map(str).value_counts()
        profile["categories"] = {str(label): int(n) for label, n in counts.head(1000).items()}
        profile["other_count"] = int(counts.iloc[1000:].sum())
    return profile


# Reads metadata.json of a model directory written by ``train_model``.
#
# Args:
#     path: Local path of the model directory.
#     source: How to name the model in messages (its URI).
def read_model_metadata(path: str, source: str) -> dict:
    import json
    import os

    model_file = os.path.join(path, "model.joblib")
    metadata_file = os.path.join(path, "metadata.json")
    if not (os.path.isfile(model_file) and os.path.isfile(metadata_file)):
        fail(
            f"{source}: not a model directory from training_pipeline (it needs model.joblib and "
            "metadata.json). Point the model URI at the 'model' output of a training run."
        )
    with open(metadata_file, encoding="utf-8") as handle:
        return json.load(handle)


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
    import os

    import joblib
    import sklearn

    metadata = read_model_metadata(path, source)
    model_file = os.path.join(path, "model.joblib")
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
