"""Component: choose among the candidate models and fit the winner."""

from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components.families import check_candidate, fitted_details
from components.features import (
    infer_features,
    profile_column,
    select_features,
    training_inputs,
)
from components.reports import leaderboard_page
from components.runtime import tabular_component
from components.sampling import (
    curve_line,
    learning_curve,
    rows_left_out,
    sampled_rows,
    training_sample,
)
from components.selection import choose_candidate, held_out_output
from components.shared import bounded, exit_quickly, fail, file_sha256, idle_threads_sleep
from components.tasks import decide_task, resolve_metric, target_summary
from components.training_options import (
    choose_threshold,
    parse_objective,
    row_weights,
    split_labels,
    time_keys,
    with_threshold,
)


@tabular_component
def train_model(
    train: Input[Dataset],
    model: Output[Model],
    leaderboard: Output[HTML],
    leaderboard_metrics: Output[Metrics],
    target_column: str,
    exclude_columns: list = [],
    search_space: list = [{"model": "random_forest"}],
    selection_metric: str = "auto",
    random_state: int = 42,
    task: str = "auto",
    time_column: str = "",
    split_column: str = "",
    weight_column: str = "",
    threshold_objective: str = "",
    max_train_rows: str = "auto",
    declared_memory_limit: str = "8G",
):
    """Chooses the best of the candidate models on the training rows and fits it.

    Each candidate names a ``model`` family and some of its hyperparameters:

    * ``random_forest`` (the default): ``n_estimators`` (100), ``max_depth``
      (0: no limit), ``min_samples_leaf`` (1), ``max_features`` (``auto``:
      the square root of the columns for classification, all for regression;
      ``sqrt``, ``log2`` or a share), ``class_weight`` (``none``,
      ``balanced``, ``balanced_subsample``), ``max_samples`` (the rows each
      tree draws: ``auto``, all of them up to 100,000 and 100,000 above, so
      the fit and the model stop growing with the table; 0 for all rows, or
      a number);
    * ``extra_trees``: the same but ``max_samples`` (each tree sees every row);
    * ``hist_gradient_boosting``: ``max_iter`` (``auto``: 100 on up to
      10,000 rows; 1,000 above, where scikit-learn stops early once a tenth
      of the rows held out no longer improves), ``learning_rate``
      (0.1), ``max_leaf_nodes`` (31), ``max_depth`` (0), ``min_samples_leaf``
      (20), ``l2_regularization`` (0), ``class_weight``; it splits on
      categories natively, and is far faster than a forest on large tables;
    * ``linear``: a logistic regression for classes, a ridge regression for
      numbers; ``alpha`` (1: the penalty, C = 1 / alpha for the logistic
      one), ``spline_knots`` (4: each standardised number becomes a cubic
      spline of that many knots, so curved effects are learnt; 0: straight
      lines), ``max_iter`` (1000), ``class_weight``;
    * ``logistic_regression`` (classification): ``C`` (1), ``max_iter``
      (1000), ``class_weight``; ``ridge`` (regression): ``alpha`` (1).
      Numbers are standardised for these.

    For regression every family also takes ``target_transform``: ``none``,
    or ``log`` (fitted on log(1 + y), predictions turned back: for targets
    from 0 up with a long right tail).

    With one candidate it is simply fitted. With more, successive halving
    picks the winner at about the cost of one fit: every candidate is scored
    on a share of the training rows, the best third go on to three times as
    many rows, until one is left, fitted on all rows; each round uses at least
    10,000 rows, so on smaller tables the candidates are all scored on every
    row in one round. Random forests are scored on their out-of-bag rows (the
    winning forest of a last round on all rows is the fit that scored it);
    other families on held-out rows (3-fold cross-validation under 10,000
    rows, a stratified fifth from there), and refitted on all rows if they
    win. Where the target is a skewed number from 0 up (skewness above 1),
    the last round's best is also scored with ``target_transform`` ``log``
    and joins that round. Candidates of the last round are combined by greedy
    ensemble selection on their held-out predictions (Caruana et al., 2004,
    on the selection metric): where it weights two or more, the model is a scikit-learn
    ``VotingClassifier`` (soft) or ``VotingRegressor`` of their Pipelines,
    each fitted on all rows, with those weights (``model`` is ``ensemble``,
    ``members`` lists them); else the top score wins. The test rows are
    never used.
    With ``time_column`` every candidate is scored on rows later than those
    it is fitted on (no out-of-bag scores, no shuffled folds); with
    ``split_column`` holding ``validation`` rows, on those.

    With ``threshold_objective`` (binary targets), the winner's held-out
    probabilities (as above, refitted per fold) choose the decision threshold,
    and the saved model decides with it (scikit-learn's
    ``FixedThresholdClassifier`` as its last step).

    Preprocessing: numeric gaps become the training median, text and other
    non-numeric columns are one-hot encoded (the 49 most frequent categories
    of a column get their own column; rarer and unseen ones share one), dates
    become their parts; for gradient boosting, categories become codes it
    splits on as categories, and numeric gaps also get a column flagging them.

    Args:
        train: Parquet table of training rows from ``split_data``.
        target_column: Column holding what to predict (a class or a number).
        exclude_columns: Columns not to use as features (``validate_data``
            hands over the ID-like ones).
        search_space: The candidates, e.g. ``[{"model": "random_forest"},
            {"model": "hist_gradient_boosting", "learning_rate": 0.05}]``;
            duplicates are tried once.
        selection_metric: What the candidates are ranked by: for
            classification ``roc_auc`` (``auto`` for two classes),
            ``balanced_accuracy`` (``auto`` for more), ``accuracy``,
            ``precision_macro``, ``recall_macro``, ``f1_macro``, ``log_loss``;
            for regression ``r2`` (``auto``), ``rmse``, ``mae``, ``mape``,
            ``max_error`` (errors and losses: lower is better).
        random_state: Seed for the samples, the held-out rows and the models.
        task: ``auto`` (decided from the target, as ``load_data`` does),
            ``classification`` or ``regression``.
        time_column: Column the rows are ordered by in time (still a feature).
        split_column: Column of train/validation/test values; never a feature.
        weight_column: Column of row weights >= 0 used in fitting and scoring;
            never a feature.
        threshold_objective: ``precision_at_recall:R``, ``recall_at_precision:P``,
            ``f1`` or ``cost:FP:FN`` (binary only); empty: the likeliest class.
        max_train_rows: The most rows to fit on: ``auto`` (as many as the
            memory limit holds) or a number; a sample is stratified by class,
            or the latest rows with ``time_column``.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``heavy_memory_limit``); a lower cgroup limit wins. Empty: none.

    Returns:
        model: Directory holding ``model.joblib`` (the fitted Pipeline,
            zlib-compressed; the layout KServe and Vertex AI serve from) and
            ``metadata.json``: ``framework``, ``framework_version``,
            ``target_column``, ``features`` (the schema: per feature its name,
            kind, dtype, missing rate and unique count, with min, max, mean and
            decile bins for numeric ones, rows and value lengths for free-text
            ones (never their values), categories seen with their counts for
            the others), ``excluded_columns``, ``classes``, ``hyperparameters``
            (``model`` included), ``iterations_run`` (gradient boosting: the
            iterations its fit ran), ``training_rows``, ``fit_seconds``,
            ``sha256`` of ``model.joblib``; ``positive_class`` (binary); the
            options given (``time_column``, ``split_column``, ``weight_column``);
            with an objective ``threshold`` and ``threshold_choice`` (the
            objective, and the held-out precision and recall). Metadata: the same, bounded in
            size, with ``features`` as name to kind and ``feature_count``,
            ``class_count`` (the full schema is in ``metadata.json``).
        leaderboard: HTML page of the candidates, best first: family,
            hyperparameters, score and its spread, how and on how many rows it
            was scored, and seconds spent fitting it (the entries also as JSON,
            in a ``<script type="application/json" id="leaderboard">`` element).
        leaderboard_metrics: ``candidates``, ``best_score``, ``best_spread``,
            ``runner_up_score`` (with more than one candidate), ``fit_seconds``.
    """
    idle_threads_sleep()  # before scikit-learn loads OpenMP
    import json
    import os
    import sys
    import time

    import joblib
    import numpy as np
    import sklearn
    from threadpoolctl import threadpool_limits

    if not search_space:
        search_space = [{}]
    frame, sample = training_sample(
        train.path, train.uri, target_column,
        exclude_columns=[*exclude_columns, *[c for c in (split_column, weight_column) if c]],
        candidates=search_space, task=task, random_state=random_state, time_column=time_column,
        max_train_rows=max_train_rows, declared=declared_memory_limit,
    )  # fmt: skip
    if sample["rows"] < sample["available"]:
        print(f"Training rows: {sampled_rows(sample)}.", flush=True)
    if time_column:  # in time order: held-out rows are later than the rows fitted
        order = np.argsort(time_keys(frame, time_column, train.uri), kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
    options = {"chronological": bool(time_column), "validation": None}
    if split_column:
        where = f"{train.uri}: split column {split_column!r}"
        if split_column not in frame.columns:
            fail(f"{where} not found; columns are {list(frame.columns)}.")
        options["validation"] = split_labels(frame[split_column], where) == "validation"
    options["weights"] = row_weights(frame, weight_column, train.uri)
    options["threshold"] = bool(threshold_objective)
    given = {"time_column": time_column, "split_column": split_column}
    given = {**given, "weight_column": weight_column}
    exclude_columns = [*exclude_columns, *[c for c in (split_column, weight_column) if c]]
    features = infer_features(frame, target_column, exclude_columns)
    if not features:
        excluded = [name for name in exclude_columns if name in frame.columns]
        fail(
            f"{train.uri}: no feature columns besides {target_column!r}"
            + (f" once {excluded} are excluded" if excluded else "")
            + ". Add feature columns, or keep the excluded ones (keep_id_columns=True)."
        )
    task, _ = decide_task(frame[target_column], task, f"{train.uri}: target {target_column!r}")
    if task == "classification" and frame[target_column].nunique() < 2:
        only = frame[target_column].iloc[0]
        fail(
            f"{train.uri}: the training rows hold a single class ({only!r}) of "
            f"{target_column!r}; a classifier needs at least two. Add rows of the other classes."
        )
    classes_seen = frame[target_column].nunique() if task == "classification" else 0
    metric = resolve_metric(selection_metric, task, "selection_metric", classes_seen)
    objective = parse_objective(threshold_objective, task, classes_seen)
    candidates, seen = [], set()
    for number, entry in enumerate(search_space, start=1):
        checked = check_candidate(entry, task, f"search_space entry {number}")
        if json.dumps(checked, sort_keys=True) not in seen:
            seen.add(json.dumps(checked, sort_keys=True))
            candidates.append(checked)
    inputs = training_inputs(frame, features, train.uri)
    for feature in features:
        column = inputs[feature["name"]]
        if str(column.dtype) == "category":  # profiled as its text, as prediction hands it
            column = column.astype(object)
        feature.update(
            profile_column(column, feature["kind"], date_format=feature.get("format", ""))
        )

    def report(entry):
        score = "unscored" if entry["score"] is None else f"{entry['score']:.4f}"
        ran = f", {entry['iterations_run']} iterations" if "iterations_run" in entry else ""
        print(
            f"candidate {entry['model']} round {entry['round']}: {metric} {score} "
            f"± {entry['spread']:.4f} ({entry['scored_by']}, {entry['rows']} rows, "
            f"{entry['fit_seconds']:.2f} s{ran}) {json.dumps(entry['hyperparameters'])}",
            flush=True,
        )

    started = time.perf_counter()
    truth = frame[target_column].to_numpy()
    # One BLAS thread: the linear family's fits are small matrix products, and
    # OpenBLAS threads on a busy or CPU-limited pod (it starts one per visible
    # core) spin against each other: a logistic regression on 26,666 rows x 120
    # spline columns took 26.3 s with 2 threads under load, 2.2 s with 1.
    # Forests (joblib threads) and boosting (OpenMP) keep every core.
    blas = threadpool_limits(limits=1, user_api="blas")  # restored once fitted
    pipeline, settings, board = choose_candidate(
        candidates, features, inputs, truth, task, metric, random_state, report, options
    )
    positions = sample.pop("positions", None)
    if positions is not None:  # a sample: would more rows pay?
        judged = rows_left_out(train.path, positions, sample["available"], 100_000, random_state)
        judge = (
            select_features(judged, features, train.uri),
            judged[target_column].to_numpy(),
            row_weights(judged, weight_column, train.uri),
        )
        sample["learning_curve"] = learning_curve(
            pipeline, settings, features, inputs, truth, task, metric, random_state,
            options["weights"], judge,
        )  # fmt: skip
        print(curve_line(sample["learning_curve"], metric), flush=True)
        del judged, judge
    tuned = {}
    if objective:
        _, _, output, scored, how = held_out_output(
            settings, features, inputs, truth, np.arange(len(frame)), task, random_state, options
        )
        if not len(scored):
            fail(f"{train.uri}: too few rows to hold any out for {threshold_objective!r}.")
        weights = options["weights"]
        chosen = choose_threshold(
            truth[scored] == pipeline.classes_[1], output[:, 1], objective,
            None if weights is None else weights[scored],
        )  # fmt: skip
        if not chosen.pop("met"):
            print(f"warning: no threshold reaches {threshold_objective}; the most precise is used")
        pipeline = with_threshold(pipeline, chosen["threshold"], inputs, truth)
        choice = {"objective": threshold_objective, **chosen, "rows": len(scored), "how": how}
        tuned = {"threshold": chosen["threshold"], "threshold_choice": choice}
        print(f"Threshold {chosen['threshold']:.4f} for {threshold_objective} ({how}): {chosen}")
    blas.restore_original_limits()
    fit_seconds = time.perf_counter() - started

    os.makedirs(model.path, exist_ok=True)
    model_file = os.path.join(model.path, "model.joblib")
    # zlib level 3, chosen with benchmarks/ (100k rows): 0.21x the uncompressed
    # size, 2.5x its warm load time (+0.17 s). lz4 loads faster but needs a
    # package model servers lack; zlib ships with Python, so the file loads anywhere.
    # Written under another name and renamed when whole, metadata.json last: an
    # interrupted or failed write never leaves what looks like a model.
    joblib.dump(pipeline, model_file + ".partial", compress=("zlib", 3))
    os.replace(model_file + ".partial", model_file)
    if task == "regression":
        target = target_summary(frame[target_column], task)
    else:
        counts = frame[target_column].value_counts()
        target = {
            "classes": pipeline.classes_.tolist(),
            "class_counts": [int(counts[label]) for label in pipeline.classes_],
        }
        if len(pipeline.classes_) == 2:
            target["positive_class"] = pipeline.classes_.tolist()[1]
    metadata = {
        "framework": "scikit-learn",
        "framework_version": sklearn.__version__,
        "python_version": ".".join(map(str, sys.version_info[:3])),
        "model_file": "model.joblib",
        "target_column": target_column,
        "features": features,
        "excluded_columns": [name for name in exclude_columns if name in frame.columns],
        "task": task,
        **target,
        "hyperparameters": {**settings, "random_state": random_state},
        **fitted_details(settings, getattr(pipeline[-1], "estimator_", pipeline[-1])),
        **{name: value for name, value in given.items() if value},
        **tuned,
        "training_rows": len(frame),
        "training_rows_available": sample["available"],
        "training_sample": sample["how"],
        **({"training_bound": sample["bound"]} if "bound" in sample else {}),
        **({"training_row_bytes": sample["row_bytes"]} if "row_bytes" in sample else {}),
        **({"learning_curve": sample["learning_curve"]} if "learning_curve" in sample else {}),
        "fit_seconds": round(fit_seconds, 3),
        "sha256": file_sha256(model_file),
    }
    metadata_file = os.path.join(model.path, "metadata.json")
    with open(metadata_file + ".partial", "w", encoding="utf-8") as handle:
        json.dump(metadata, handle, indent=2)
    os.replace(metadata_file + ".partial", metadata_file)
    # The UI's summary keeps 20 entries (``bounded``): the sample in one line.
    sampling = ("training_rows_available", "training_sample", "training_bound")
    sampling += ("training_row_bytes", "learning_curve")
    summary = {
        **{name: value for name, value in metadata.items() if name not in sampling},
        "features": {feature["name"]: feature["kind"] for feature in features},
        "feature_count": len(features),
    }
    if len(frame) < sample["available"]:
        summary["trained_on"] = sampled_rows(sample)
    if task == "classification":
        summary["class_count"] = len(metadata["classes"])
    model.metadata.update(bounded(summary))
    scored = [entry for entry in board if entry["score"] is not None]
    candidates = sum(entry["model"] != "ensemble" for entry in board)
    leaderboard_metrics.log_metric("candidates", candidates)
    leaderboard_metrics.log_metric("fit_seconds", round(fit_seconds, 3))
    if scored:
        leaderboard_metrics.log_metric("best_score", scored[0]["score"])
        leaderboard_metrics.log_metric("best_spread", scored[0]["spread"])
    if len(scored) > 1:
        leaderboard_metrics.log_metric("runner_up_score", scored[1]["score"])
    with open(leaderboard.path, "w", encoding="utf-8") as handle:
        handle.write(leaderboard_page(board, metric, len(frame), sample))
    what = "regression" if task == "regression" else f"{len(metadata['classes'])} classes"
    ran = f" ({metadata['iterations_run']} iterations)" if "iterations_run" in metadata else ""
    print(
        f"Trained {settings['model']} (best of {candidates}) on {len(frame):,} of "
        f"{sample['available']:,} rows, "
        f"{len(features)} features, {what}, in {fit_seconds:.2f} s{ran}."
    )
    exit_quickly()
