"""The training sample: as many training rows as ``train_model``'s memory holds.

A table that fits is read whole, exactly as before (small tables get the same
models, seed for seed). A larger one is sampled: stratified by class (by
quantile bins of a number for regression), or with a time column its latest
rows; only the target (and time) column is held whole to choose them, and only
the chosen rows are read. Embedded into the components that call these helpers,
as ``shared.py``'s are (read its docstring: comments rather than docstrings).
"""

from components.features import build_model, infer_features, profile_column, select_features
from components.memory import memory_limit, resident_bytes, rows_that_fit, stop_unless_fits
from components.selection import fit_weighted, score_with_spread, stratified_sample
from components.shared import fail
from components.tables import parquet_rows
from components.tasks import decide_task, lower_is_better, strata
from components.training_options import time_keys


# The bytes a training row will cost, measured on the table's first rows: the rows as
# pandas holds them, and each candidate's preprocessing fitted there (its output width).
#
# Args:
#     head: The first rows, as ``pd.read_parquet`` types them.
#     target_column, exclude_columns, candidates, task, random_state: as train_model's.
def row_cost(head, target_column, exclude_columns, candidates, task, random_state):
    import warnings

    # What a training row costs at the peak of the fit, as multiples of the row's own size:
    # 6 times the row as pandas holds it (the table; the model's inputs; the target; the
    # ColumnTransformer's column slices), plus 2 times the widest candidate's preprocessed
    # row in float64 (the transformers' outputs and their stack, the estimator's own copies:
    # gradient boosting's early-stopping split, the linear family's solver).
    # Measured (RSS high-water mark, benchmarks/training_scale.py's table: 120 bytes a row in
    # pandas; 22 columns preprocessed for boosting, 64 for the linear family): the default
    # search space grew 975 bytes a row from 250,000 to 1,000,000 rows, the linear family
    # alone 1,470 from 250,000 to 500,000; 6 x 120 + 2 x 8 x 64 = 1,744 covers both. Medians
    # fitted column by column and categories kept as codes (benchmarks/train_peak.py) lowered
    # the peak by 30 to 62 MiB at 312,500 to 500,000 rows but not the linear family's growth
    # (1,348 bytes a row before, 1,353 after), so the multiples stay.
    frame_copies, matrix_copies = 6.0, 2.0
    features = infer_features(head, target_column, exclude_columns)
    if not features:
        return float(head.memory_usage(deep=True).sum() / len(head)) * frame_copies
    inputs = select_features(head, features, "the first rows")
    for feature in features:
        feature.update(
            profile_column(
                inputs[feature["name"]], feature["kind"], date_format=feature.get("format", "")
            )
        )
    target = head[target_column].to_numpy()
    widest = 1
    for candidate in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model, _ = build_model(features, candidate, random_state, task, rows=len(head))
                widest = max(widest, model[0].fit_transform(inputs, target).shape[1])
            except (ValueError, SystemExit):  # a bad candidate, too few rows: train_model says
                continue
    frame_row = head.memory_usage(deep=True).sum() / len(head)
    return float(frame_copies * frame_row + matrix_copies * 8 * widest)


# The training rows to fit on: the whole table, or as many rows as the memory limit holds.
#
# Args:
#     path: The training table (a Parquet file from ``split_data``).
#     source: How to name it in messages (its URI).
#     target_column, exclude_columns, candidates, task, random_state, time_column: as
#         train_model's (candidates checked).
#     max_train_rows: "auto" or a number of rows.
#     declared: The step's declared memory limit.
#
# Returns:
#     ``(frame, sample)``: the rows (in table order), and how they were chosen: rows,
#     available, how, and where bounded the limit and the bytes a row.
def training_sample(
    path, source, target_column, exclude_columns, candidates, task, random_state, time_column,
    max_train_rows, declared,
):  # fmt: skip
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    # The fewest rows worth fitting on (a limit that holds fewer stops the step), and the
    # first rows the cost of a row is measured on.
    fewest_rows, head_rows = 1_000, 5_000
    try:
        table = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises many kinds for a damaged file
        fail(f"{source}: not a readable Parquet file ({error}). Rerun split_data.")
    available, names = table.metadata.num_rows, table.schema_arrow.names
    if target_column not in names:
        fail(f"{source}: target column {target_column!r} not found; columns are {names}.")
    limit = memory_limit(declared, "heavy_memory_limit")
    sample = {"rows": available, "available": available, "how": "all rows"}
    if limit[0] is None and str(max_train_rows).strip().lower() == "auto":
        return pd.read_parquet(path), sample
    head = parquet_rows(path, np.arange(min(available, head_rows)))
    where = f"{source}: target {target_column!r}"
    decided = task if task != "auto" else decide_task(head[target_column], task, where)[0]
    row_bytes = row_cost(head, target_column, exclude_columns, candidates, decided, random_state)
    del head
    # Choosing rows holds the target (and time) column whole, and a few positions a row.
    chooser = [target_column, *([time_column] if time_column in names else [])]
    held = resident_bytes() + available * 64 * len(chooser)
    spare = None if limit[0] is None else 0.9 * limit[0] - held  # a tenth left for the rest
    rows = rows_that_fit(max_train_rows, "max_train_rows", spare, row_bytes)
    sample.update(row_bytes=round(row_bytes), limit=limit[1])
    forced = str(max_train_rows).strip().lower() != "auto"
    sample["bound"] = f"max_train_rows={max_train_rows}" if forced else limit[1]
    if rows is None or rows >= available:
        return pd.read_parquet(path), {**sample, "rows": available}
    if rows < fewest_rows and not forced:
        what = f"fitting on {fewest_rows:,} of the {available:,} training rows"
        needed = (held + fewest_rows * row_bytes) / 0.9
        stop_unless_fits("train_model", what, needed, limit, "heavy_memory_limit")
    if spare is not None and rows * row_bytes > spare:
        print(f"warning: {limit[1]} holds about {int(spare // row_bytes):,} rows, not {rows:,}")
    chosen = pd.read_parquet(path, columns=chooser)
    if time_column:
        keys = time_keys(chosen, time_column, source)
        positions = np.sort(np.argsort(keys.to_numpy(), kind="stable")[available - rows :])
        how = f"the latest {rows:,} by {time_column}"
    else:
        target = chosen[target_column]
        decided = decide_task(target, task, where)[0]
        groups = pd.factorize(target)[0] if decided == "classification" else strata(target, decided)
        positions = stratified_sample(groups, rows, random_state)[0]
        by = "class" if decided == "classification" else "target quantiles"
        how = f"a sample stratified by {by}"
    del chosen
    frame = parquet_rows(path, positions)
    return frame, {**sample, "rows": rows, "how": how, "positions": positions}


# Up to ``count`` training rows the sample left out, for the learning curve: a seeded,
# uniform draw from the rows not in ``positions``.
#
# Args:
#     path: The training table.
#     positions: The sample's positions (sorted).
#     available: Rows in the table.
#     count: Most rows to draw.
#     random_state: Seed.
def rows_left_out(path, positions, available, count, random_state):
    import numpy as np

    rest = np.setdiff1d(np.arange(available), positions, assume_unique=True)
    if len(rest) > count:
        rest = np.sort(np.random.default_rng(random_state).choice(rest, count, replace=False))
    return parquet_rows(path, rest)


# The selection score of the model at a quarter, half and all of the sample's rows, on the
# same rows the sample left out, and whether the last doubling paid: more rows would help
# where the score rose by more than twice its standard error (the spread over five parts
# over the square root of five). Only for a sample: the rows left out are the judge, and
# the cost (fits on a quarter and a half of the rows, 0.75 of a fit) buys an answer the
# user can act on (raise heavy_memory_limit or max_train_rows).
#
# Args:
#     model: The fitted model (before any threshold); for an ensemble, the curve is its
#         heaviest member's.
#     settings: Its hyperparameters.
#     features, inputs, truth, task, metric, random_state, weights: as choose_candidate's.
#     judge: ``(inputs, truth, weights)`` of rows left out of the sample.
#
# Returns:
#     ``{"model", "points": [{"rows", "score"}], "gain", "noise", "more_rows_help"}``.
def learning_curve(model, settings, features, inputs, truth, task, metric, random_state,
                   weights, judge):  # fmt: skip
    import numpy as np

    from_rows, to_truth, to_weights = judge
    if settings["model"] == "ensemble":
        heaviest = max(
            range(len(settings["members"])), key=lambda i: settings["members"][i]["weight"]
        )
        settings = {k: v for k, v in settings["members"][heaviest].items() if k != "weight"}
        model = model[-1].estimators_[heaviest]
    classes = model.classes_ if task == "classification" else None

    def score(fitted):
        if classes is None:
            output = fitted.predict(from_rows)
        else:
            output = np.zeros((len(from_rows), len(classes)))
            output[:, np.searchsorted(classes, fitted.classes_)] = fitted.predict_proba(from_rows)
        return score_with_spread(to_truth, output, classes, metric, to_weights)

    points, groups = [], strata(truth, task)
    for share in (4, 2):
        rows = stratified_sample(groups, len(truth) // share, random_state)[0]
        fitted = build_model(features, settings, random_state, task, rows=len(rows))[0]
        w = None if weights is None else weights[rows]
        fit_weighted(fitted, inputs.iloc[rows], truth[rows], w)
        points.append({"rows": int(len(rows)), "score": score(fitted)[0]})
    last, spread = score(model)
    points.append({"rows": int(len(truth)), "score": last})
    if any(point["score"] is None for point in points):
        return {"model": settings["model"], "points": points}
    gain = (last - points[1]["score"]) * (-1 if lower_is_better(metric) else 1)
    noise = spread / 5**0.5
    for point in points:
        point["score"] = round(float(point["score"]), 6)
    return {
        "model": settings["model"],
        "points": points,
        "judged_on": int(len(to_truth)),
        "gain": round(float(gain), 6),
        "noise": round(float(noise), 6),
        "more_rows_help": bool(gain > 2 * noise),
    }


# The learning curve in words, one line.
#
# Args:
#     curve: From ``learning_curve``.
#     metric: The selection metric.
def curve_line(curve, metric):
    shown = ", ".join(
        f"{'—' if p['score'] is None else format(p['score'], '.4f')} at {p['rows']:,} rows"
        for p in curve["points"]
    )
    line = f"Learning curve ({curve['model']}, {metric} on rows left out of the sample): {shown}"
    if "gain" not in curve:
        return line + "."
    helps = curve["more_rows_help"]
    verdict = (
        f"the last doubling gained {curve['gain']:+.4f}, {'over' if helps else 'within'} twice "
        f"the noise ({curve['noise']:.4f}): more rows would "
        + ("likely help (raise heavy_memory_limit or max_train_rows)." if helps else "add little.")
    )
    return f"{line}; {verdict}"


# "N of M rows" and, for a sample, how it was drawn and what bounded it, in words.
#
# Args:
#     sample: From ``training_sample``.
def sampled_rows(sample):
    line = f"{sample['rows']:,} of {sample['available']:,} rows"
    if sample["rows"] >= sample["available"]:
        return line
    if sample["bound"].startswith("max_train_rows"):
        return f"{line}, {sample['how']} ({sample['bound']})"
    bound = f"{sample['bound']} holds at about {sample['row_bytes']:,} bytes a row"
    return f"{line}, {sample['how']}: as many as {bound}; raise it or max_train_rows for more"
