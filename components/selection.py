"""Choosing among candidates at about the cost of one fit, in one place.

Successive halving (the idea of scikit-learn's ``HalvingRandomSearchCV``):
every candidate is scored on a share of the training rows, the best third go
on to three times as many rows, and so on until one is left for all rows; on
small tables, one round scores every candidate on every row. Random forests
are scored on their out-of-bag rows, so one fit on all rows both scores the
candidate and, if it wins, is the model; other families are scored on held-out
rows (3-fold cross-validation under 10,000 rows, one held-out fifth from
there), and a winner among them is refitted on all rows. Embedded into the
components that call these helpers, as ``shared.py``'s are (read its
docstring: comments rather than docstrings).
"""

from components.ensembles import combine_candidates
from components.families import fitted_details, scores_out_of_bag
from components.features import build_model
from components.shared import fail
from components.tasks import lower_is_better, score_predictions, score_regression, strata


# The rows each round of successive halving uses, the last round all of them.
#
# Each round keeps the best third of its candidates (rounded up) and uses three
# times the rows of the one before, until one candidate is left for the last
# round, on all rows: ceil(log3(count)) + 1 rounds. Fewer when the first would
# have under ``least_rows`` rows (where fits are cheap, candidates are scored
# on all rows instead): under 20,000 training rows, two candidates share one
# round, on all rows.
#
# Args:
#     count: Number of candidates.
#     rows: Number of training rows.
#     least_rows: Fewest rows a round may use.
def halving_rounds(count: int, rows: int, least_rows: int = 10_000) -> list:
    rounds = 1 if count == 1 else 2
    while 3 ** (rounds - 1) < count:
        rounds += 1
    while rounds > 1 and rows / 3 ** (rounds - 1) < least_rows:
        rounds -= 1
    return [rows // 3 ** (rounds - 1 - number) for number in range(rounds)]


# A seeded sample of ``size`` positions out of ``len(groups)``, stratified on
# ``groups`` when every group has two rows, else uniform; and the rest.
#
# Args:
#     groups: Strata of the rows (classes, or quantile bins of a number).
#     size: Rows to draw.
#     random_state: Seed.
def stratified_sample(groups, size: int, random_state: int):
    import numpy as np
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(groups))
    if size >= len(groups):
        return positions, positions[:0]
    counts = np.unique(groups, return_counts=True)[1]
    stratify = groups if counts.min() >= 2 else None
    try:
        drawn, rest = train_test_split(
            positions, train_size=size, stratify=stratify, random_state=random_state
        )
    except ValueError:  # too few rows per class for this size: draw uniformly
        drawn, rest = train_test_split(positions, train_size=size, random_state=random_state)
    return np.sort(drawn), np.sort(rest)


# The selection metric on some rows, and its spread: the standard deviation of
# the metric over five disjoint parts of those rows (0 with under 50 rows).
#
# Args:
#     truth: True targets.
#     output: Class probabilities (columns in ``classes`` order) or predicted values.
#     classes: The model's classes (classification), else None.
#     metric: The selection metric.
#     weights: Row weights, or None.
#     spread: False: the score alone (spread 0), a sixth of the cost; greedy
#         ensemble selection scores 75 averages and needs no spread.
#
# Returns:
#     ``(score, spread)``; score is None when the metric is undefined there.
def score_with_spread(truth, output, classes, metric: str, weights=None, spread=True):
    import numpy as np

    def score(rows):
        w = None if weights is None else weights[rows]
        try:
            if classes is None:
                return score_regression(truth[rows], output[rows], metric, w).get(metric)
            return score_predictions(truth[rows], output[rows], classes, metric, w).get(metric)
        except ValueError:  # undefined on these rows, e.g. a single class in a part
            return None

    if len(truth) == 0:
        return None, 0.0

    everything = np.arange(len(truth))
    value = score(everything)
    if value is None or len(truth) < 50 or not spread:
        return value, 0.0
    parts = np.array_split(np.random.default_rng(0).permutation(everything), 5)
    values = [v for v in (score(part) for part in parts) if v is not None]
    return value, float(np.std(values)) if len(values) > 1 else 0.0


# The (fit, score) position pairs that score a candidate not scored out of
# bag: 3-fold cross-validation under 10,000 rows, where fits are cheap and a
# fifth of the rows would be a noisy judge; from there, one stratified fifth.
# Rows in time order (``chronological``): each fold scores rows later than
# those it fits, the last fifth from 10,000 rows. With validation rows: those.
#
# Args:
#     groups: Strata of the rows.
#     random_state: Seed.
#     chronological: Whether the rows are in time order, to be kept.
#     validation: Whether each row is a validation row (a split column), or None.
def held_out_folds(groups, random_state: int, chronological=False, validation=None) -> list:
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    if validation is not None and 0 < validation.sum() < len(validation):
        return [(np.flatnonzero(~validation), np.flatnonzero(validation))]
    if chronological and len(groups) >= 10_000:
        cut = len(groups) - len(groups) // 5
        return [(np.arange(cut), np.arange(cut, len(groups)))]
    if chronological:
        return list(TimeSeriesSplit(n_splits=3).split(groups)) if len(groups) >= 4 else []
    if len(groups) >= 10_000:
        fit, score = stratified_sample(groups, len(groups) - len(groups) // 5, random_state)
        return [(fit, score)]
    splits = min(3, len(groups))
    if splits < 2:
        return []  # too few rows to hold any out: left unscored
    if np.unique(groups, return_counts=True)[1].min() >= splits:
        splitter = StratifiedKFold(n_splits=splits, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(n_splits=splits, shuffle=True, random_state=random_state)
    return list(splitter.split(np.zeros(len(groups)), groups))


# Fits a Pipeline, with row weights when given (its last step takes them).
def fit_weighted(model, inputs, target, weights=None):
    if weights is None:
        return model.fit(inputs, target)
    return model.fit(inputs, target, **{f"{model.steps[-1][0]}__sample_weight": weights})


# The held-out output of one candidate on some training rows (``held_out_folds``).
#
# Args: as for ``score_candidate``.
#
# Returns:
#     ``(model, settings, output, scored, how)``: the last fitted Pipeline, its
#     hyperparameters, the held-out probabilities (or values), the positions
#     they are for, and how they were held out.
def held_out_output(candidate, features, inputs, target, rows, task, random_state, options):
    import numpy as np

    weights, validation = options.get("weights"), options.get("validation")
    classes = np.unique(target[rows]) if task == "classification" else None
    groups = strata(target[rows], task)
    in_validation = None if validation is None else validation[rows]
    folds = held_out_folds(groups, random_state, options.get("chronological"), in_validation)
    # A fold whose fitting rows hold one class cannot train a classifier: left out.
    folds = [f for f in folds if classes is None or len(np.unique(target[rows[f[0]]])) > 1]
    outputs, scored = [], []
    for fit, held in folds:
        model, settings = build_model(features, candidate, random_state, task, rows=len(fit))
        fitting = rows[fit]
        w = None if weights is None else weights[fitting]
        fit_weighted(model, inputs.iloc[fitting], target[fitting], w)
        if classes is None:
            outputs.append(model.predict(inputs.iloc[rows[held]]))
        else:  # a fold may lack a rare class: place each column under its class
            part = np.zeros((len(held), len(classes)))
            part[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(
                inputs.iloc[rows[held]]
            )
            outputs.append(part)
        scored.append(rows[held])
    if not folds:
        model, settings = build_model(features, candidate, random_state, task, rows=len(rows))
        fit_weighted(
            model, inputs.iloc[rows], target[rows], None if weights is None else weights[rows]
        )
        outputs = [np.zeros((0, len(classes)) if classes is not None else 0)]
        scored = [rows[:0]]
    how = f"{len(folds)}-fold cross-validation" if len(folds) != 1 else "held-out fifth"
    if in_validation is not None and len(folds) == 1:
        how = "validation rows"
    elif options.get("chronological"):
        how = f"{how}, later rows" if len(folds) != 1 else "latest fifth"
    how = how if folds else "not scored (too few rows)"
    return model, settings, np.concatenate(outputs), np.concatenate(scored), how


# Fits one candidate on some training rows and scores it: on its out-of-bag
# rows (random forests, unless the rows are in time order or have validation
# rows), else on held-out rows (``held_out_folds``).
#
# Args:
#     candidate: Hyperparameters from ``check_candidate``.
#     features: The feature list from ``infer_features``.
#     inputs: The training rows' features (``select_features``).
#     target: The training rows' targets (numpy array).
#     rows: Positions of the rows to use.
#     task: "classification" or "regression".
#     metric: The selection metric.
#     random_state: Seed.
#     options: ``weights`` (per row, or None), ``chronological`` (rows in time
#         order) and ``validation`` (per row, or None).
#
# Returns:
#     ``(model, entry)``: the last fitted Pipeline, and what the leaderboard
#     shows: model, hyperparameters, score, spread, scored_by, rows, fit_seconds,
#     and ``fitted_details`` (the boosting iterations that ran; under 10,000
#     rows, where nothing stops early, every fold runs the same number); and
#     ``held_out``, the scored positions and their predictions, for
#     ``combine_candidates`` (popped before the entry is shown).
def score_candidate(candidate, features, inputs, target, rows, task, metric, random_state, options):
    import time
    import warnings

    import numpy as np

    weights = options.get("weights")
    held_rows = options.get("chronological") or options.get("validation") is not None
    out_of_bag = scores_out_of_bag(candidate) and not held_rows
    classes = np.unique(target[rows]) if task == "classification" else None
    started = time.perf_counter()
    if out_of_bag:
        model, settings = build_model(features, candidate, random_state, task, True, rows=len(rows))
        with warnings.catch_warnings():  # rows no tree left out are dropped below
            warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
            fit_weighted(
                model, inputs.iloc[rows], target[rows], None if weights is None else weights[rows]
            )
        forest = model[-1]
        output = forest.oob_decision_function_ if classes is not None else forest.oob_prediction_
        # Kept for scoring only: the saved model need not carry a value per training row.
        for name in ("oob_decision_function_", "oob_prediction_", "oob_score_"):
            vars(forest).pop(name, None)
        # scikit-learn gives 0s to a row no tree left out: not a prediction.
        seen = output.sum(axis=1) > 0 if classes is not None else np.ones(len(rows), bool)
        output, scored, how = output[seen], rows[seen], "out-of-bag"
    else:
        model, settings, output, scored, how = held_out_output(
            candidate, features, inputs, target, rows, task, random_state, options
        )
    w = None if weights is None else weights[scored]
    score, spread = score_with_spread(target[scored], output, classes, metric, w)
    entry = {
        "model": settings["model"],
        "hyperparameters": settings,
        "score": None if score is None else round(float(score), 6),
        "spread": round(spread, 6),
        "scored_by": how,
        "rows": int(len(rows)),
        "fit_seconds": round(time.perf_counter() - started, 3),
        **fitted_details(settings, model[-1]),
        "held_out": (scored, output),
    }
    return model, entry


# Whether a regression target is worth trying on a log scale: no value below
# 0, and a long right tail (sample skewness above 1, the usual mark of a highly
# skewed distribution), as prices, salaries and counts often have.
def skewed(target) -> bool:
    import pandas as pd

    values = pd.Series(target, dtype="float64")
    return len(values) > 2 and values.min() >= 0 and values.skew() > 1


# Picks the best candidate by successive halving and returns it fitted on all rows.
#
# Each round ranks by score, ties going to the smaller spread, then to the
# earlier candidate; a candidate whose metric is undefined ranks last. For a
# skewed regression target (``skewed``), the last round's best is also scored
# with ``target_transform`` "log" and joins that round. The candidates of the
# last round are then combined by greedy ensemble selection
# (``combine_candidates``); where it keeps one member only, the top score of
# the last round wins (no longer the candidate listed first among those within
# the noise: on a house-price table that rule kept a forest 0.02 r2 behind
# boosting). One candidate is simply fitted.
#
# Args:
#     candidates: Hyperparameter sets from ``check_candidate``, duplicates removed.
#     features, inputs, target, task, metric, random_state, options: as for
#         ``score_candidate``.
#     report: Called with each leaderboard entry as its candidate finishes a round.
#
# Returns:
#     ``(model, settings, board)``: the fitted winner, its hyperparameters, and
#     the leaderboard: one entry per candidate (its last round), best first,
#     each with its ``round`` and ``rank``.
def choose_candidate(
    candidates, features, inputs, target, task, metric, random_state, report, options
):
    import math
    import time

    import numpy as np

    everything = np.arange(len(inputs))
    if len(candidates) == 1:
        started = time.perf_counter()
        model, settings = build_model(features, candidates[0], random_state, task, rows=len(inputs))
        fit_weighted(model, inputs, target, options.get("weights"))
        entry = {"model": settings["model"], "hyperparameters": settings, "score": None}
        entry.update(spread=None, scored_by="not scored (a single candidate)")
        entry.update(rows=len(inputs), fit_seconds=round(time.perf_counter() - started, 3))
        entry.update(fitted_details(settings, model[-1]))
        return model, settings, [{**entry, "round": 1, "rank": 1}]

    sign = 1 if lower_is_better(metric) else -1

    def standing(index):  # further rounds first, then the better score, the smaller spread
        entry = board[index]
        score = math.inf if entry["score"] is None else sign * entry["score"]
        return (-entry["round"], score, entry["spread"], index)

    alive, board, fitted, held_out = list(range(len(candidates))), {}, {}, {}
    plan = halving_rounds(len(candidates), len(inputs))
    groups = strata(target, task)
    for number, size in enumerate(plan, start=1):
        if number == len(plan) and len(alive) == 1:
            break  # the one candidate left is fitted on all rows below, not scored again
        rows = everything[stratified_sample(groups, size, random_state)[0]]
        for index in alive:
            model, entry = score_candidate(
                candidates[index], features, inputs, target, rows, task, metric, random_state,
                options,
            )  # fmt: skip
            held_out[index] = entry.pop("held_out")
            spent = board.get(index, {}).get("fit_seconds", 0)
            entry.update(round=number, fit_seconds=round(entry["fit_seconds"] + spent, 3))
            board[index], fitted[index] = entry, model
            report(entry)
        alive = sorted(alive, key=standing)
        if number < len(plan):
            for index in alive[math.ceil(len(alive) / 3) :]:
                fitted.pop(index)  # its model, fitted on a share of the rows, is not needed
            alive = alive[: math.ceil(len(alive) / 3)]

    # A skewed target of numbers from 0 up: the best candidate is also scored
    # fitted on log(1 + y), on the same rows, and joins the last round.
    if task == "regression" and skewed(target):
        variant = {**board[alive[0]]["hyperparameters"], "target_transform": "log"}
        if all(candidate != variant for candidate in candidates):
            index, candidates = len(candidates), [*candidates, variant]
            model, entry = score_candidate(
                variant, features, inputs, target, rows, task, metric, random_state, options
            )
            held_out[index] = entry.pop("held_out")
            entry["round"] = board[alive[0]]["round"]
            board[index], fitted[index] = entry, model
            report(entry)
            alive = sorted([*alive, index], key=standing)

    if all(board[index]["score"] is None for index in board):
        fail(
            f"{metric} is undefined for every candidate (too few rows per class); "
            "choose another selection_metric."
        )
    # Candidates of the last round combined, where greedy selection weights
    # two or more of them (components/ensembles.py). Not with row
    # weights (the ensemble's choice and its members' refit are unweighted) nor a
    # threshold to tune (chosen on one candidate's held-out output): one model then.
    combined = None
    if options.get("weights") is None and not options.get("threshold"):
        combined = combine_candidates(
            board, held_out, fitted, alive, features, inputs, target, task, metric,
            random_state, score_with_spread,
        )  # fmt: skip
    if combined is not None:
        model, settings, entry = combined
        members = sorted((i for i in board if "weight" in board[i]), key=standing)
        ordered = members + [i for i in sorted(board, key=standing) if i not in members]
        ranked = [entry] + [board[i] for i in ordered]
        return model, settings, [{**e, "rank": rank} for rank, e in enumerate(ranked, 1)]
    best = alive[0]  # the top score; a tie goes to the smaller spread, then the earlier
    model, settings = fitted[best], board[best]["hyperparameters"]
    if board[best]["scored_by"] != "out-of-bag" or board[best]["rows"] < len(inputs):  # fit all
        started = time.perf_counter()
        model, settings = build_model(features, settings, random_state, task, rows=len(inputs))
        fit_weighted(model, inputs, target, options.get("weights"))
        board[best]["refit_seconds"] = round(time.perf_counter() - started, 3)
        board[best].update(fitted_details(settings, model[-1]))  # the saved model's
    ordered = [best] + [index for index in sorted(board, key=standing) if index != best]
    return model, settings, [{**board[i], "rank": rank} for rank, i in enumerate(ordered, 1)]
