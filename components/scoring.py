"""Helpers for scoring rows in chunks: the model's inputs, its outputs, and mergeable counts.

Every figure a scoring or drift step reports is built from counts that add up
across chunks and shards (rows, gaps, unseen categories, unparseable dates,
histogram bins, prediction counts): one pass, many chunks or many shards give
the same report.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: the same rules hold, comments rather than docstrings).
"""

from components.features import select_features
from components.shared import bounded, chunk_rows, fail


# The model's inputs for a chunk of rows, typed as in training (see ``typed_rows``).
#
# Args:
#     chunk: A pyarrow Table of rows.
#     features: The model's features, from its metadata.
#     source: How to name the rows in messages.
#     options: The chunk's reading options, from ``iter_table``.
#     first_row: The chunk's first row in its file (from 0), for messages.
def prepare_rows(chunk, features: list, source: str, options: dict, first_row: int = 0):
    import pandas as pd

    if any(f["name"] not in chunk.column_names for f in features):
        select_features(pd.DataFrame(columns=chunk.column_names), features, source)  # says which
    frame = chunk.select([f["name"] for f in features]).to_pandas()
    return typed_rows(
        frame=frame, features=features, source=source, options=options, first_row=first_row
    )


# The model's inputs for rows as a pandas DataFrame, typed as in training: the
# one rule of batch scoring and of online serving (serving/runtime.py).
#
# Rows read as text (CSV chunks, see ``iter_table``; values a client sends)
# are brought to the form training saw, as pandas' one-pass reading typed a
# column by all its values: with a decimal comma, numbers lose their "."
# thousands separators; a categorical value unknown to the model but written
# as a number ("3.0", "007") or a boolean ("true") takes the form pandas would
# have given it ("3", "7", "True"); a known value is kept as written. Then
# ``select_features`` checks and types every feature, stopping (``fail``) on a
# missing feature, text in a numeric one, or a number beyond float32.
#
# Args:
#     frame: The rows, holding at least the feature columns.
#     features: The model's features, from its metadata.
#     source: How to name the rows in messages.
#     options: Reading options: ``format`` ("csv": values as text) and ``decimal``.
#     first_row: The frame's first row (from 0), for messages.
def typed_rows(frame, features: list, source: str, options: dict, first_row: int = 0):
    import pandas as pd

    if options.get("format") == "csv":
        for feature in features:
            name = feature["name"]
            if name not in frame.columns or not frame[name].notna().any():
                continue
            values = frame[name]
            if not pd.api.types.is_string_dtype(values):
                continue  # numbers or booleans, already typed
            if feature["kind"] == "numeric" and options.get("decimal") == ",":
                frame[name] = values.str.replace(".", "", regex=False).str.replace(
                    ",", ".", regex=False
                )
            elif feature["kind"] == "categorical":
                known = values.isin(list(feature.get("categories") or ()))
                if known.all():  # kept as written (the usual case for a single row)
                    continue
                numbers = pd.to_numeric(values.where(~known), errors="coerce")
                recast = numbers.notna()
                if recast.any():
                    frame.loc[recast, name] = numbers[recast].map(
                        lambda v: str(int(v)) if float(v).is_integer() else str(v)
                    )
                truth = values.where(~known).str.lower().map({"true": "True", "false": "False"})
                frame.loc[truth.notna(), name] = truth[truth.notna()]
    return select_features(frame, features, source, first_row + 1)


# The model's outputs for a chunk of inputs, as named columns.
#
# Classification: ``prediction`` and one ``proba_<class>`` per class, from one
# pass through the model. Regression: ``prediction``, and for forests
# ``tree_p10`` and ``tree_p90``, the 10th and 90th percentiles of the trees'
# predictions (the model's own spread, not a calibrated interval).
# Probabilities are rounded to 12 decimals (see below).
#
# Args:
#     estimator: The fitted scikit-learn Pipeline.
#     task: "classification" or "regression".
#     inputs: The model's inputs, from ``prepare_rows``.
#     threshold: A tuned binary threshold (``metadata.json``), applied as the model's
#         own predict() applies it; None: the likeliest class.
def score_rows(estimator, task: str, inputs, threshold=None) -> dict:
    import numpy as np

    forest = hasattr(estimator[-1], "n_estimators")  # not boosting, nor an ensemble's vote
    trees = getattr(estimator[-1], "estimators_", None) if forest else None
    if task == "regression" and trees is None:
        return {"prediction": predict_rows(estimator, inputs, "predict")}
    if task == "regression":
        prepared = transform_rows(estimator[:-1], inputs)
        per_tree = np.stack([tree.predict(prepared) for tree in trees])
        low, high = np.percentile(per_tree, [10, 90], axis=0)
        return {"prediction": per_tree.mean(axis=0), "tree_p10": low, "tree_p90": high}
    # One pass through the forest; predict() would compute the probabilities again. A
    # forest's threads add up their trees in any order, which moves the last bit with
    # the batch: 12 decimals make every chunking and sharding give the same figures.
    proba = predict_rows(estimator, inputs, "predict_proba").round(12)
    decided = proba.argmax(axis=1) if threshold is None else (proba[:, 1] >= threshold) * 1
    added = {"prediction": estimator.classes_[decided]}
    added.update({f"proba_{label}": proba[:, i] for i, label in enumerate(estimator.classes_)})
    return added


# A fitted model's ``method`` ("predict" or "predict_proba") for rows,
# computed as the model's own method computes it, with less of
# scikit-learn's machinery around each part.
#
# For a few rows most of a prediction's time is not arithmetic: every
# Pipeline, ColumnTransformer and FeatureUnion checks its input and hands
# each part to joblib (a config context and a warnings filter a part), and a
# forest hands it each tree. One row through the default ensemble: 18-25 ms
# by the model's own predict_proba, 13-16 ms walked (issue 31,
# benchmarks/serving.py). So the composites scikit-learn would walk are
# walked here in the same order with the same arithmetic (sklearn 1.9's
# Pipeline.transform, ColumnTransformer._hstack, FeatureUnion._hstack,
# _BaseVoting._weights_not_none, ForestClassifier.predict_proba summing its
# trees as with n_jobs=1); leaves run their own methods, and anything else
# (weights on a union, pandas output, a column given by position) runs the
# model's own method. For many rows (over 100), the model's own method: a
# forest's threads then pay for themselves.
#
# Args:
#     model: A fitted estimator (a Pipeline, a vote, a forest, any other).
#     inputs: The rows, as the model takes them.
#     method: "predict" or "predict_proba".
#     memo: Outputs already computed in this call (see ``transform_rows``).
def predict_rows(model, inputs, method: str, memo=None):
    import numpy as np
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        RandomForestClassifier,
        VotingClassifier,
        VotingRegressor,
    )
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import Pipeline

    if inputs.shape[0] > 100:
        return getattr(model, method)(inputs)
    memo = {} if memo is None else memo
    if isinstance(model, Pipeline):
        for _, step in model.steps[:-1]:
            if step is not None and not isinstance(step, str):
                inputs = transform_rows(step, inputs, memo)
        return predict_rows(model.steps[-1][1], inputs, method, memo)
    if isinstance(model, FixedThresholdClassifier) and method == "predict_proba":
        return predict_rows(model.estimator_, inputs, method, memo)
    if isinstance(model, FrozenEstimator):  # (its estimator_ would be a forest's template)
        return predict_rows(model.estimator, inputs, method, memo)
    voting = isinstance(model, (VotingClassifier, VotingRegressor))
    if voting and model.weights is not None:
        pairs = zip(model.estimators, model.weights, strict=True)
        weights = [weight for (_, member), weight in pairs if member != "drop"]
    else:
        weights = None
    if isinstance(model, VotingClassifier) and method == "predict_proba" and model.voting == "soft":
        votes = [predict_rows(member, inputs, method, memo) for member in model.estimators_]
        return np.average(np.asarray(votes), axis=0, weights=weights)
    if isinstance(model, VotingRegressor) and method == "predict":
        votes = [predict_rows(member, inputs, method, memo) for member in model.estimators_]
        return np.average(np.asarray(votes).T, axis=1, weights=weights)
    forest = isinstance(model, (RandomForestClassifier, ExtraTreesClassifier))
    dense = isinstance(inputs, np.ndarray)
    if forest and dense and method == "predict_proba" and model.n_outputs_ == 1:
        rows = np.asarray(inputs, dtype=np.float32)
        total = np.zeros((rows.shape[0], model.n_classes_), dtype=np.float64)
        for tree in model.estimators_:
            total += tree.predict_proba(rows, check_input=False)
        return total / len(model.estimators_)
    return getattr(model, method)(inputs)


# A fitted transformer's output for rows, as its own ``transform`` computes
# it, walking Pipelines, ColumnTransformers and FeatureUnions (see
# ``predict_rows``: why, and what runs the transformer's own method). A part
# a ColumnTransformer shares with another (the same object on the same rows:
# ``share_identical_parts``) is computed once a call.
#
# Args:
#     step: A fitted transformer.
#     inputs: The rows, as the step takes them.
#     memo: Outputs computed in this call, by part and rows (each kept with its
#         rows, so no other object takes their id while the call runs).
def transform_rows(step, inputs, memo=None):
    import numpy as np
    import sklearn
    from scipy import sparse
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    def named(columns):  # columns chosen by name, as a DataFrame's are
        listed = isinstance(columns, (list, tuple, np.ndarray))
        return isinstance(columns, str) or (listed and all(isinstance(c, str) for c in columns))

    output = getattr(step, "_sklearn_output_config", {}).get("transform")
    plain = (output or sklearn.get_config()["transform_output"]) == "default"
    if isinstance(step, Pipeline):
        for _, part in step.steps:
            if part is not None and not isinstance(part, str):
                inputs = transform_rows(part, inputs, memo)
        return inputs
    if isinstance(step, ColumnTransformer) and plain and hasattr(inputs, "columns"):
        chosen = [(part, columns) for _, part, columns in step.transformers_ if part != "drop"]
        simple = not step.sparse_output_ and not step.transformer_weights
        if simple and all(named(c) and not isinstance(p, str) for p, c in chosen):
            memo = {} if memo is None else memo
            parts = []
            for part, columns in chosen:
                if not len(columns):
                    continue
                key = (id(part), id(inputs), str(columns))
                if key not in memo:
                    selected = inputs[columns if isinstance(columns, str) else list(columns)]
                    memo[key] = (inputs, transform_rows(part, selected, memo))
                parts.append(memo[key][1])
            parts = [part.toarray() if sparse.issparse(part) else part for part in parts]
            return np.hstack(parts) if parts else np.zeros((inputs.shape[0], 0))
    if isinstance(step, FeatureUnion) and plain and not step.transformer_weights:
        kept = [part for _, part in step.transformer_list if part != "drop"]
        if kept and not any(isinstance(part, str) for part in kept):
            parts = [transform_rows(part, inputs, memo) for part in kept]
            if any(sparse.issparse(part) for part in parts):
                return sparse.hstack(parts).tocsr()
            return np.concatenate(parts, axis=1)
    return step.transform(inputs)


# Every estimator inside a fitted model, the model first. The fitted members
# hide in attributes (``estimators_``, ``transformers_``, ``regressor_``,
# ``estimator_``), so every attribute is walked.
#
# Args:
#     model: A fitted estimator.
def estimators_within(model) -> list:
    seen, found, stack = set(), [], [model]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif hasattr(item, "get_params"):
            found.append(item)
            stack.extend(vars(item).values())
    return found


# Sets every ``n_jobs`` inside a fitted model to 1, and returns how many it set.
#
# Forests predict with ``n_jobs=-1`` (every core, set for training): for one
# row, starting joblib's thread pool costs more than the 100 trees (30 ms of
# a 37 ms titanic row, issue 31), and a forest's threads add its trees up in
# any order, which moves the last bit. The serving runtime calls it at load;
# the model on disk keeps its setting, batch scoring keeps its threads.
#
# Args:
#     model: A fitted estimator, changed in place.
def single_threaded(model) -> int:
    changed = 0
    for item in estimators_within(model):
        if getattr(item, "n_jobs", None) not in (None, 1):
            item.n_jobs = 1
            changed += 1
    return changed


# Makes the identical fitted parts of a model's ColumnTransformers one object,
# and returns how many it replaced, so ``transform_rows`` computes each once.
#
# An ensemble's members are fitted on the same rows, so they often hold the
# same fitted part: the default ensemble's three text FeatureUnions, two
# category encoders. Parts are the same when their pickles are, so outputs
# are the same too. The serving runtime calls it at load (one row of the
# default ensemble: 11.6 ms against 15.9, load 2.2); the model on disk is
# untouched.
#
# Args:
#     model: A fitted estimator, changed in place.
def share_identical_parts(model) -> int:
    import pickle

    from sklearn.compose import ColumnTransformer

    first, replaced = {}, 0
    for item in estimators_within(model):
        if not isinstance(item, ColumnTransformer) or not hasattr(item, "transformers_"):
            continue  # (an unfitted template holds nothing to share)
        for index, (name, part, columns) in enumerate(item.transformers_):
            if isinstance(part, str):
                continue
            kept = first.setdefault((pickle.dumps(part), str(columns)), part)
            if kept is not part:
                item.transformers_[index] = (name, kept, columns)
                replaced += 1
    return replaced


# What scoring a chunk found, as counts that add up across chunks (``merge_counts``).
#
# Args:
#     inputs: The model's inputs, from ``prepare_rows``.
#     features: The model's features.
#     predictions: The chunk's ``prediction`` column.
#     task: "classification" or "regression".
def scoring_counts(inputs, features: list, predictions, task: str) -> dict:
    import pandas as pd

    counts = {
        "rows": len(inputs),
        "missing_values": {name: int(n) for name, n in inputs.isna().sum().items() if n},
        "unseen_categories": {},
        "unparseable_dates": {},
    }
    for feature in features:
        name, known = feature["name"], feature.get("categories")
        values = inputs[name].dropna()
        if feature["kind"] == "categorical" and known is not None:
            unseen = int((~values.isin(list(known))).sum())
            if unseen:
                counts["unseen_categories"][name] = unseen
        elif feature["kind"] == "datetime":
            parsed = pd.to_datetime(values, format=feature["format"], errors="coerce", utc=True)
            if parsed.isna().any():
                counts["unparseable_dates"][name] = int(parsed.isna().sum())
    if task == "regression":
        values = pd.Series(predictions, dtype="float64")
        if len(values):
            counts["prediction"] = {
                "min": float(values.min()),
                "max": float(values.max()),
                "sum": float(values.sum()),
            }
    else:
        found = pd.Series(predictions).value_counts(sort=False)
        counts["prediction_counts"] = {str(label): int(n) for label, n in found.items()}
    return counts


# Adds two sets of counts: numbers add, lists add entry by entry, maps merge by
# key; "min" and "max" keep the smaller and the larger.
#
# Args:
#     total: Counts so far (may be empty).
#     more: Counts to add.
def merge_counts(total: dict, more: dict) -> dict:
    merged = dict(total)
    for key, value in more.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict):
            merged[key] = merge_counts(merged[key], value)
        elif isinstance(value, list):
            merged[key] = [a + b for a, b in zip(merged[key], value, strict=True)]
        elif key in ("min", "max"):
            merged[key] = min(merged[key], value) if key == "min" else max(merged[key], value)
        else:
            merged[key] = merged[key] + value
    return merged


# The predictions' metadata and warnings, from the merged counts of every chunk.
#
# Args:
#     counts: Merged ``scoring_counts``.
#     names: The model's feature names (their order orders the maps).
#     summary: ``task``, ``classes``, ``ignored_columns``, ``replaced_columns``
#         and ``reading_options`` of the scoring.
#     output_format: "csv" or "parquet".
#
# Returns:
#     (metadata, warnings): the bounded metadata and the warning lines.
def describe_scoring(counts: dict, names: list, summary: dict, output_format: str):
    for key in ("missing_values", "unseen_categories", "unparseable_dates"):
        found = counts.get(key, {})
        counts[key] = {name: found[name] for name in names if found.get(name)}
    if summary["task"] == "regression":
        found = counts.get("prediction", {"min": 0.0, "max": 0.0, "sum": 0.0})
        described = {
            "prediction_summary": {
                "min": round(found["min"], 6),
                "mean": round(found["sum"] / max(counts["rows"], 1), 6),
                "max": round(found["max"], 6),
            }
        }
    else:
        found = counts.get("prediction_counts", {})
        described = {
            "classes": summary["classes"],
            "prediction_counts": dict(sorted(found.items(), key=lambda item: -item[1])),
        }
    ignored, replaced = summary["ignored_columns"], summary["replaced_columns"]
    warnings = []
    if ignored:
        warnings.append(f"ignored columns the model does not use: {bounded(ignored)}")
    if counts["unseen_categories"]:
        unseen = bounded(counts["unseen_categories"])
        warnings.append(f"categories unseen in training, encoded as rare: {unseen}")
    if counts["unparseable_dates"]:
        unparseable = bounded(counts["unparseable_dates"])
        warnings.append(f"dates that do not parse, used as missing: {unparseable}")
    if counts["missing_values"]:
        missing = bounded(counts["missing_values"])
        warnings.append(f"missing values, filled in by the model's imputers: {missing}")
    metadata = {
        "format": output_format,
        "rows": counts["rows"],
        "task": summary["task"],
        **described,
        "replaced_columns": replaced,
        "ignored_columns": ignored,
        "missing_values": counts["missing_values"],
        "unseen_categories": counts["unseen_categories"],
        "unparseable_dates": counts["unparseable_dates"],
        "warnings": warnings,
        "reading_options": summary["reading_options"],
    }
    if replaced:
        warnings = warnings + [f"replaced existing columns {replaced}"]
    return bounded(metadata), warnings


# What drift needs of a chunk, as counts that add up across chunks: per
# feature its rows and present values; numeric, the values in each training
# bin and their min, max and sum; datetime, the values that parse;
# categorical, the values seen in training and the count of the ten most
# frequent training categories (the chart's).
#
# Args:
#     inputs: The model's inputs, from ``prepare_rows``.
#     features: The model's features.
def drift_counts(inputs, features: list) -> dict:
    import numpy as np
    import pandas as pd

    counts = {}
    for feature in features:
        name, kind = feature["name"], feature["kind"]
        present = inputs[name].dropna()
        entry = {"rows": len(inputs), "present": len(present)}
        if kind == "numeric" and feature.get("bin_edges") is not None:
            numbers = present.to_numpy(dtype=float)
            edges = feature["bin_edges"]
            bins = np.bincount(
                np.searchsorted(edges, numbers, side="right"), minlength=len(edges) + 1
            )
            entry["bins"] = [int(n) for n in bins]
            if len(numbers):
                entry.update(min=float(numbers.min()), max=float(numbers.max()))
        elif kind == "datetime":
            parsed = pd.to_datetime(
                present, format=feature.get("format"), errors="coerce", utc=True
            )
            entry["parsed"] = int(parsed.notna().sum())
        elif kind == "categorical" and feature.get("categories") is not None:
            known = list(feature["categories"])
            entry["known"] = int(present.isin(known).sum())
            found = present[present.isin(known[:10])].value_counts()
            entry["top"] = {str(label): int(n) for label, n in found.items()}
        counts[name] = entry
    return counts


# The profile of each feature in the rows to score, from merged ``drift_counts``:
# ``rows``, ``present``, ``missing_rate`` (values that do not parse count as
# missing for dates), and ``bin_shares`` (numeric), ``new_category_share``
# and ``categories`` (categorical) when there are values.
#
# Args:
#     counts: Merged ``drift_counts``.
def drift_profiles(counts: dict) -> dict:
    profiles = {}
    for name, entry in counts.items():
        rows, present = entry["rows"], entry["present"]
        filled = entry.get("parsed", present)
        profile = {
            "rows": rows,
            "present": present,
            "missing_rate": round(1 - filled / rows, 6) if rows else 0.0,
        }
        if "bins" in entry:
            profile["bin_shares"] = [round(n / max(present, 1), 6) for n in entry["bins"]]
            if "min" in entry:
                profile.update(min=entry["min"], max=entry["max"])
        if "known" in entry:
            profile["categories"] = entry["top"]
            if present:
                profile["new_category_share"] = (present - entry["known"]) / present
        profiles[name] = profile
    return profiles


# Opens a writer of pyarrow tables to ``path``: CSV (comma-separated, UTF-8,
# fields quoted only where needed) or Parquet. Its ``write_table`` and
# ``close`` are pyarrow's.
#
# Args:
#     path: The file to write.
#     output_format: "csv" or "parquet".
#     schema: The pyarrow schema of the tables to write.
def open_writer(path: str, output_format: str, schema):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if output_format == "parquet":
        return pq.ParquetWriter(path, schema)
    return pacsv.CSVWriter(path, schema, write_options=pacsv.WriteOptions(quoting_style="needed"))


# Predicts a Parquet table of labelled rows (the test rows) in chunks of
# ``chunk_rows``: what evaluation keeps of every row is a few bytes (its true
# target, the model's output), so memory does not grow with the table's width,
# and each row's prediction is the one the whole table would get.
#
# Args:
#     estimator: The fitted Pipeline.
#     path: The Parquet table.
#     features: The model's features, from its metadata.
#     target_column: The column of true targets.
#     task: "classification" or "regression".
#     source: How to name the table in messages.
#     decide: Also keep ``estimator.predict`` (a model with a decision threshold).
#     keep: Sorted row numbers whose typed feature columns to keep, or None.
#     rows: Rows in a chunk; None for ``chunk_rows``.
#
# Returns:
#     ``(truth, output, decisions, kept)``: the true targets, the class
#     probabilities (classification) or predicted values, the decisions (or
#     None), and the kept rows' feature columns (or None).
def predict_labelled(estimator, path, features, target_column, task, source, decide=False,
                     keep=None, rows=None):  # fmt: skip
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    # The outputs go straight into one array of the table's rows (no list of chunks
    # then a concatenated copy: 2 x 16 bytes a row of two classes); integer targets
    # of classes in their least type (a 0/1 target: 1 byte a row, not 8).
    table = pq.ParquetFile(path, pre_buffer=False)  # see tables.py's split_rows
    total = table.metadata.num_rows
    truths, output, decisions, kept, at = [], None, [], [], 0
    for batch in table.iter_batches(batch_size=rows or chunk_rows()):
        chunk = batch.to_pandas()
        inputs = select_features(chunk, features, source, at + 1)
        truth = chunk[target_column]
        if task != "regression" and pd.api.types.is_integer_dtype(truth):
            truth = pd.to_numeric(truth, downcast="integer")
        truths.append(truth.to_numpy())
        regression = task == "regression"
        values = estimator.predict(inputs) if regression else estimator.predict_proba(inputs)
        if output is None:
            output = np.empty((total, *values.shape[1:]), dtype=values.dtype)
        output[at : at + len(chunk)] = values
        if decide and task != "regression":
            decisions.append(estimator.predict(inputs))
        if keep is not None:
            kept.append(inputs.iloc[keep[(keep >= at) & (keep < at + len(chunk))] - at])
        at += len(chunk)
        del chunk, inputs, values
    if not truths:
        fail(f"{source}: no rows to score. Give the test set rows.")
    kept = pd.concat(kept) if keep is not None else None
    decisions = np.concatenate(decisions) if decide and task != "regression" else None
    return np.concatenate(truths), output[:at], decisions, kept
