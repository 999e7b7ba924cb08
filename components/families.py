"""Model families, in one place every component uses.

A candidate in a search space is a dict naming its ``model`` (a family) and
some of that family's hyperparameters. This module checks a candidate, builds
the family's estimator for a task, and says how a sweep scores it. Embedded
into the components that call these helpers, as ``shared.py``'s are (read its
docstring: comments rather than docstrings).
"""

from components.shared import fail


# Each family's hyperparameters and their defaults, and the tasks it serves.
#
# 0 for max_depth means no limit; "auto" for max_features is scikit-learn's
# default for the task (the square root of the columns for classification, all
# of them for regression); class_weight is none, balanced or
# balanced_subsample (forests only). "auto" for gradient boosting's max_iter:
# see ``boosting_iterations``; for a random forest's max_samples (the rows each
# tree's bootstrap sample draws; 0 for all of them): see ``forest_samples``.
# ``linear`` is a logistic regression for classes
# (C = 1 / alpha) and a ridge regression for numbers, on standardised numbers
# each expanded into a cubic spline basis of ``spline_knots`` knots (0: the
# numbers as they are), so a curved effect such as age on wages is learnt
# (see ``build_model``). Every family also takes ``target_transform`` for
# regression: "none", or "log" (fitted on log(1 + y), predicting exp(...) - 1).
def model_families() -> dict:
    forest = {
        "n_estimators": 100, "max_depth": 0, "min_samples_leaf": 1, "max_features": "auto",
        "class_weight": "none",
    }  # fmt: skip
    return {
        "random_forest": {
            "tasks": ["classification", "regression"],
            "defaults": {**forest, "max_samples": "auto"},
        },
        "extra_trees": {"tasks": ["classification", "regression"], "defaults": dict(forest)},
        "hist_gradient_boosting": {
            "tasks": ["classification", "regression"],
            "defaults": {
                "max_iter": "auto",
                "learning_rate": 0.1,
                "max_leaf_nodes": 31,
                "max_depth": 0,
                "min_samples_leaf": 20,
                "l2_regularization": 0.0,
                "class_weight": "none",
            },  # fmt: skip
        },
        "linear": {
            "tasks": ["classification", "regression"],
            "defaults": {"alpha": 1.0, "spline_knots": 4, "max_iter": 1000, "class_weight": "none"},
        },
        "logistic_regression": {
            "tasks": ["classification"],
            "defaults": {"C": 1.0, "max_iter": 1000, "class_weight": "none"},
        },
        "ridge": {"tasks": ["regression"], "defaults": {"alpha": 1.0}},
    }


# Checks one candidate and completes it with its family's defaults.
#
# Whole numbers may arrive as floats (KFP hands dicts over that way).
#
# Args:
#     candidate: e.g. {"model": "hist_gradient_boosting", "learning_rate": 0.05};
#         without "model", a random forest.
#     task: "classification" or "regression"; "auto" (not known yet) leaves
#         the checks that depend on it for later.
#     where: How to name the candidate in messages, e.g. "search_space entry 2".
#
# Returns:
#     The full, normalised hyperparameters, "model" first.
def check_candidate(candidate, task: str, where: str = "hyperparameters") -> dict:
    if not isinstance(candidate, dict):
        fail(f"{where} is {candidate!r}, not a dict such as {{'model': 'random_forest'}}.")
    families = model_families()
    model = candidate.get("model", "random_forest")
    if model not in families:
        fail(f"{where}: model {model!r} is not one of {list(families)}.")
    family = families[model]
    if task != "auto" and task not in family["tasks"]:
        other = "ridge" if task == "regression" else "logistic_regression"
        fail(f"{where}: {model} is for {family['tasks'][0]} only; for {task} use {other}.")
    defaults = family["defaults"]
    unknown = sorted(set(candidate) - set(defaults) - {"model", "target_transform"})
    if unknown:
        fail(f"{where}: {unknown} do not apply to {model}; use any of {list(defaults)}.")
    transform = candidate.get("target_transform", "none")
    if transform not in ("none", "log"):
        fail(f"{where}: target_transform must be 'none' or 'log', got {transform!r}.")
    if task == "classification" and transform != "none":
        fail(f"{where}: target_transform applies to regression only; drop it for classification.")
    settings = {"model": model, **defaults, **candidate}
    if task == "regression":
        settings["target_transform"] = transform
    lowest = {"n_estimators": 1, "max_iter": 1, "max_leaf_nodes": 2, "max_depth": 0}
    lowest.update(min_samples_leaf=1, spline_knots=0, max_samples=0)
    for name in set(lowest) & set(defaults):
        value = settings[name]
        if value == "auto" and defaults[name] == "auto":  # sized at fit time
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            value = None
        if value is None or value != int(value) or value < lowest[name]:
            also = " or 'auto'" if defaults[name] == "auto" else ""
            fail(
                f"{where}: {name} must be a whole number of at least {lowest[name]}{also}, "
                f"got {settings[name]!r}."
            )
        settings[name] = int(value)
    if settings.get("spline_knots") == 1:
        fail(f"{where}: spline_knots must be 0 (no splines) or at least 2, got 1.")
    positive = {"learning_rate", "C", "alpha"}
    for name in (positive | {"l2_regularization"}) & set(defaults):
        value = settings[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or value < 0 or (name in positive and value == 0):
            size = "above 0" if name in positive else "of at least 0"
            fail(f"{where}: {name} must be a number {size}, got {value!r}.")
        settings[name] = float(value)
    if "class_weight" in defaults:
        weights = ["none", "balanced"] + (
            ["balanced_subsample"] if "n_estimators" in defaults else []
        )
        if settings["class_weight"] not in weights:
            given = settings["class_weight"]
            fail(f"{where}: class_weight must be one of {weights}, got {given!r}.")
        if task == "regression" and settings["class_weight"] != "none":
            fail(f"{where}: class_weight applies to classification only; drop it for regression.")
    if "max_features" in defaults:
        share = settings["max_features"]
        if share not in ("auto", "sqrt", "log2") and not (
            isinstance(share, (int, float)) and not isinstance(share, bool) and 0 < share <= 1
        ):
            fail(
                f"{where}: max_features must be 'auto', 'sqrt', 'log2' or a share in (0, 1], "
                f"got {share!r}."
            )
        if isinstance(share, (int, float)):
            settings["max_features"] = float(share)
    return settings


# How the estimator wants its inputs: "trees" (gaps imputed, categories one-hot
# encoded), "native" (gaps and categories handled by the model itself) or
# "scaled" (as "trees", numbers standardised).
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
def input_style(settings: dict) -> str:
    styles = {
        "hist_gradient_boosting": "native",
        "linear": "scaled",
        "logistic_regression": "scaled",
        "ridge": "scaled",
    }
    return styles.get(settings["model"], "trees")


# Whether a sweep scores this candidate on its out-of-bag rows (one fit on all
# rows, kept if it wins) rather than on held-out rows (a fit on the rest, then
# a refit on all rows if it wins). Random forests draw bootstrap samples, so
# each row is scored by the trees that never saw it; with 25 trees or more,
# all but about 1 row in 100,000 (0.63 ** 25) is left out by at least one tree.
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
def scores_out_of_bag(settings: dict) -> bool:
    forest = settings["model"] == "random_forest" and settings["n_estimators"] >= 25
    return forest and settings.get("target_transform", "none") == "none"  # else in logs


# Gradient boosting's most iterations for a fit on ``rows`` rows.
#
# "auto": 100 on up to 10,000 rows, 1,000 above. Above 10,000 rows scikit-learn
# stops early by default (``early_stopping="auto"``: ``n_samples > 10_000`` in
# sklearn/ensemble/_hist_gradient_boosting/gradient_boosting.py): a tenth of the
# rows is held out and the fit ends once 10 iterations in a row no longer lower
# their loss, so the cap only bounds the cost while the data can still teach it.
# 100 iterations stopped short there: on the 100,000-row table of ``make bench``
# early stopping ran 413, and the default pipeline's test balanced accuracy
# rose from 0.9425 to 0.9537.
# Below, nothing stops a fit early, and 100 iterations are a bound on the cost
# and on over-fitting a few hundred rows.
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
#     rows: Rows the estimator is fitted on.
def boosting_iterations(settings: dict, rows: int) -> int:
    if settings["max_iter"] != "auto":
        return settings["max_iter"]
    return 1000 if rows > 10_000 else 100


# The rows each tree of a random forest draws for its bootstrap sample, for a
# fit on ``rows`` rows: None (all of them, scikit-learn's default) or a number.
#
# "auto": all rows up to 100,000, 100,000 above. A tree grown to 5 rows a leaf
# has a leaf per few rows it draws, so without a bound both the fit and the
# model grow with the table. Measured on the 20-feature table of ``make bench``
# (docs/performance.md), 100 trees on 266,666 rows (the first round of the
# default pipeline at 1M rows): all rows 90 s, 172 MiB pickled, out-of-bag
# balanced accuracy 0.9507; 200,000 a tree 78 s, 146 MiB, 0.9494; 100,000 a
# tree 42 s, 92 MiB, 0.9454 (gradient boosting scored 0.9579 there), and that
# size however large the table. Tables of up to 100,000 rows (and rounds fitted
# on as many) get the forests they always had, seed for seed.
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
#     rows: Rows the forest is fitted on.
def forest_samples(settings: dict, rows: int):
    bound = 100_000 if settings["max_samples"] == "auto" else settings["max_samples"]
    return bound if bound and rows > bound else None


# What a fit decided for itself, for the model's metadata: the boosting
# iterations that ran (early stopping may end them before max_iter); nothing
# for the other families.
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
#     estimator: The fitted estimator (the Pipeline's last step).
def fitted_details(settings: dict, estimator) -> dict:
    if settings["model"] == "hist_gradient_boosting":  # inside a TransformedTargetRegressor?
        return {"iterations_run": int(getattr(estimator, "regressor_", estimator).n_iter_)}
    return {}


# The unfitted estimator of a family for a task; every core it can use.
#
# Args:
#     settings: Hyperparameters from ``check_candidate``.
#     task: "classification" or "regression".
#     random_state: Seed.
#     categorical: For "native" input: which input columns hold category codes.
#     out_of_bag: Keep out-of-bag predictions (random forests, for a sweep).
#     rows: Rows it will be fitted on (sizes gradient boosting's max_iter "auto").
def make_estimator(
    settings: dict, task: str, random_state: int, categorical=(), out_of_bag=False, *, rows: int
):
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    estimator = family_estimator(settings, task, random_state, categorical, out_of_bag, rows=rows)
    if settings.get("target_transform", "none") == "log":
        return TransformedTargetRegressor(estimator, func=np.log1p, inverse_func=np.expm1)
    return estimator


# The family's own estimator (``make_estimator`` without the target transform).
def family_estimator(settings, task, random_state, categorical, out_of_bag, *, rows):
    from sklearn import ensemble, linear_model

    model, regression = settings["model"], task == "regression"
    weight = None if settings.get("class_weight", "none") == "none" else settings["class_weight"]
    if model in ("random_forest", "extra_trees"):
        share = settings["max_features"]
        common = {
            "n_estimators": settings["n_estimators"],
            "max_depth": settings["max_depth"] or None,
            "min_samples_leaf": settings["min_samples_leaf"],
            "max_features": (1.0 if regression else "sqrt") if share == "auto" else share,
            "random_state": random_state,
            "n_jobs": -1,
        }
        if model == "random_forest":
            common["oob_score"] = out_of_bag
            common["max_samples"] = forest_samples(settings, rows)
            kind = ensemble.RandomForestRegressor if regression else ensemble.RandomForestClassifier
        else:
            kind = ensemble.ExtraTreesRegressor if regression else ensemble.ExtraTreesClassifier
        return kind(**common) if regression else kind(class_weight=weight, **common)
    if model == "hist_gradient_boosting":
        common = {
            name: settings[name] for name in ("learning_rate", "max_leaf_nodes", "min_samples_leaf")
        }
        common.update(
            max_iter=boosting_iterations(settings, rows),
            max_depth=settings["max_depth"] or None,
            l2_regularization=settings["l2_regularization"],
            categorical_features=list(categorical) or None,
            random_state=random_state,
        )
        if regression:
            return ensemble.HistGradientBoostingRegressor(**common)
        return ensemble.HistGradientBoostingClassifier(class_weight=weight, **common)
    if model == "linear" and not regression:
        return linear_model.LogisticRegression(
            C=1 / settings["alpha"], max_iter=settings["max_iter"], class_weight=weight
        )
    if model == "logistic_regression":
        return linear_model.LogisticRegression(
            C=settings["C"], max_iter=settings["max_iter"], class_weight=weight
        )
    return linear_model.Ridge(alpha=settings["alpha"])
