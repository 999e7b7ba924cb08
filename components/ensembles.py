"""Combining close candidates into one weighted ensemble, in one place.

Greedy ensemble selection (Caruana, Niculescu-Mizil, Crew and Ksikes, "Ensemble
selection from libraries of models", ICML 2004; what AutoGluon's
``WeightedEnsemble`` does): starting from nothing, add, with replacement, the
candidate whose held-out predictions most improve the average's selection
metric, 25 times; the weights are how often each was added. The held-out
predictions are those selection already computed (out-of-bag for forests,
out-of-fold for the others), so choosing the weights costs no fit. The result
is a stock ``VotingClassifier(voting="soft")`` or ``VotingRegressor`` holding
each member's whole Pipeline, so batch prediction and MLServer load it with
none of our code. Embedded into the components that call these helpers, as
``shared.py``'s are (read its docstring: comments rather than docstrings).
"""

from components.features import build_model
from components.tasks import lower_is_better


# Greedy ensemble selection's weights over candidates' held-out predictions.
#
# Each of ``steps`` steps adds the candidate that gives the best metric for the
# running average (ties to the earlier candidate); the result is the step with
# the best metric (ties to the earlier step: fewer additions), so it is never
# worse than the best single candidate on these rows.
#
# Args:
#     outputs: Per candidate, its predictions on the same rows (class
#         probabilities in ``classes`` order, or values).
#     truth: The rows' true targets.
#     classes: The classes (classification), else None.
#     metric: The selection metric.
#     scorer: ``selection.score_with_spread`` (handed in: selection calls this module).
#     steps: Additions made.
#
# Returns:
#     ``(counts, score)``: how often each candidate was added (its weight out
#     of the total), and the metric of that average.
def greedy_weights(outputs, truth, classes, metric: str, scorer, steps: int = 25):
    import math

    sign = 1 if lower_is_better(metric) else -1
    counts, total, best = [0] * len(outputs), 0, (math.inf, None, None)
    for step in range(1, steps + 1):
        chosen = None
        for index, output in enumerate(outputs):
            value = scorer(truth, (total + output) / step, classes, metric, spread=False)[0]
            key = math.inf if value is None else sign * value
            if chosen is None or key < chosen[0]:
                chosen = (key, index, value)
        counts[chosen[1]] += 1
        total = total + outputs[chosen[1]]
        if chosen[0] < best[0]:
            best = (chosen[0], list(counts), chosen[2])
    return best[1], best[2]


# The ensemble of the last round's candidates, or None when one candidate
# alone does as well (greedy selection weights only one member).
#
# Args:
#     board: The leaderboard entries by candidate index (``choose_candidate``).
#     held_out: Per candidate index, ``(positions, output)``: the rows its
#         held-out predictions are for, and those predictions.
#     fitted: Per candidate index, its last fitted Pipeline.
#     last: Indices of the candidates scored in the last round, best first.
#     features, inputs, target, task, metric, random_state: as for ``score_candidate``.
#     scorer: ``selection.score_with_spread``.
#
# Returns:
#     ``(pipeline, settings, entry)``: a Pipeline holding the voting estimator,
#     fitted on all rows; its hyperparameters (``model`` "ensemble" and its
#     ``members``, each with its ``weight``); its leaderboard entry. Each
#     member's own entry gains its ``weight``.
def combine_candidates(
    board, held_out, fitted, last, features, inputs, target, task, metric, random_state, scorer
):
    import time

    import numpy as np
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    last = [index for index in last if board[index]["score"] is not None]
    if len(last) < 2:
        return None
    common = held_out[last[0]][0]
    for index in last[1:]:
        common = np.intersect1d(common, held_out[index][0])
    if len(common) == 0:
        return None
    outputs = []
    for index in last:  # each candidate's predictions on the common rows, in their order
        positions, output = held_out[index]
        order = np.argsort(positions)
        outputs.append(np.asarray(output)[order[np.searchsorted(positions[order], common)]])
    classes = np.unique(target) if task == "classification" else None
    counts, _ = greedy_weights(outputs, target[common], classes, metric, scorer)
    # Kept whenever two or more are weighted (greedy selection never does worse
    # than its best member on these rows, and AutoGluon keeps its ensemble
    # likewise). A margin of one standard error over the best alone, tried
    # first, kept single models that the ensemble beat on the test rows of
    # most tables of ``make bench-quality`` (docs/quality.md).
    if sum(count > 0 for count in counts) < 2:
        return None
    mixed = sum(count * output for count, output in zip(counts, outputs, strict=True)) / sum(counts)
    score, spread = scorer(target[common], mixed, classes, metric)
    if score is None:
        return None

    started = time.perf_counter()
    members, estimators, weights = [], [], []
    for index, count in zip(last, counts, strict=True):
        if not count:
            continue
        entry = board[index]
        model = fitted[index]
        if entry["scored_by"] != "out-of-bag" or entry["rows"] < len(inputs):  # fit on all rows
            refit = time.perf_counter()
            model = build_model(
                features, entry["hyperparameters"], random_state, task, rows=len(inputs)
            )[0]
            model.fit(inputs, target)
            entry["refit_seconds"] = round(time.perf_counter() - refit, 3)
        entry["weight"] = round(count / sum(counts), 4)
        members.append({**entry["hyperparameters"], "weight": entry["weight"]})
        estimators.append((f"{entry['model']}_{index + 1}", model))
        weights.append(count)
    # The members are fitted already: the voting estimator is assembled as its
    # fit would leave it (estimators_ in order; for classes, the label encoder
    # whose sorted classes every member's probability columns follow).
    if task == "regression":
        voting = VotingRegressor(estimators, weights=weights)
    else:
        voting = VotingClassifier(estimators, voting="soft", weights=weights)
        voting.le_ = LabelEncoder().fit(target)
        voting.classes_ = voting.le_.classes_
    voting.estimators_ = [model for _, model in estimators]
    voting.named_estimators_ = Bunch(**dict(estimators))
    step = "regressor" if task == "regression" else "classifier"
    pipeline = Pipeline([(step, voting)])
    settings = {"model": "ensemble", "members": members}
    entry = {
        "model": "ensemble",
        "hyperparameters": {
            "members": [m["model"] for m in members],
            "weights": [m["weight"] for m in members],
        },
        "score": round(float(score), 6),
        "spread": round(spread, 6),
        "scored_by": "greedy selection on the members' held-out predictions",
        "rows": int(len(common)),
        "round": board[last[0]]["round"],
        "fit_seconds": round(time.perf_counter() - started, 3),
    }
    return pipeline, settings, entry
