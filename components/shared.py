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


# The column whose name differs from ``name`` only in case or surrounding spaces, or None.
#
# Args:
#     name: The name asked for.
#     columns: The names there are.
def close_column(name: str, columns):
    wanted = str(name).strip().casefold()
    return next((str(c) for c in columns if str(c).strip().casefold() == wanted), None)


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


# Lets the step's process end at once. At exit the interpreter scans every
# object still alive (with pandas and scikit-learn loaded: 0.45 s of a step,
# measured); moving them out of the garbage collector's reach first takes that
# to 0.1 s. Called last in the steps that load those libraries; only in a
# step's own process (KFP's command sets _KFP_RUNTIME), not when a test or a
# notebook calls the function directly.
def exit_quickly():
    import gc
    import os

    if os.environ.get("_KFP_RUNTIME") == "true":
        gc.freeze()
