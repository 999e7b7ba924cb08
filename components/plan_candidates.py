"""Component: turn a search space into the full hyperparameter sets to try."""

from typing import NamedTuple

from components.runtime import tabular_component
from components.shared import fail


@tabular_component
def plan_candidates(
    search_space: list,
    n_estimators: int = 100,
    max_depth: int = 0,
    min_samples_leaf: int = 1,
    class_weight: str = "none",
    task: str = "classification",
) -> NamedTuple("Outputs", candidates=list, sweep=bool):
    """Completes each entry of the search space with the base hyperparameters.

    Each entry of ``search_space`` is a dict overriding some of the base
    hyperparameters (``{}`` is the base itself). Duplicate entries are tried
    once. For regression, entries that only change ``class_weight`` (a
    classification setting, as in the default search space) are skipped, with a
    warning; a base ``class_weight`` other than ``none`` is refused.

    Args:
        search_space: Hyperparameter overrides, e.g.
            ``[{}, {"min_samples_leaf": 5}, {"class_weight": "balanced"}]``.
            Keys: ``n_estimators``, ``max_depth``, ``min_samples_leaf``,
            ``class_weight``, ``max_features``.
        n_estimators: Base number of trees.
        max_depth: Base depth limit; 0 means no limit.
        min_samples_leaf: Base fewest rows in a leaf.
        class_weight: Base class weighting: ``none``, ``balanced`` or ``balanced_subsample``.
        task: ``classification`` or ``regression`` (from ``load_data``).

    Returns:
        candidates: The complete hyperparameter sets, in search-space order.
        sweep: Whether there is more than one candidate to compare.
    """
    import json
    from collections import namedtuple

    keys = ("n_estimators", "max_depth", "min_samples_leaf", "class_weight", "max_features")
    if not search_space:
        search_space = [{}]
    base = {
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "min_samples_leaf": min_samples_leaf,
        "class_weight": class_weight,
    }
    if task == "regression" and class_weight != "none":
        fail(f"class_weight {class_weight!r} applies to classification only; use none.")
    candidates, seen = [], set()
    for number, overrides in enumerate(search_space, start=1):
        if not isinstance(overrides, dict):
            fail(f"search_space entry {number} is {overrides!r}, not a dict of hyperparameters.")
        unknown = sorted(set(overrides) - set(keys))
        if unknown:
            fail(f"search_space entry {number} has unknown key(s) {unknown}; use {list(keys)}.")
        if task == "regression" and overrides.get("class_weight", "none") != "none":
            print(
                f"warning: search_space entry {number} {json.dumps(overrides)} skipped: "
                "class_weight applies to classification only"
            )
            continue
        candidate = {**base, **overrides}
        fingerprint = json.dumps(candidate, sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            candidates.append(candidate)
    if not candidates:
        fail("every search_space entry was skipped; give at least one for this task, e.g. [{}].")
    print(f"{len(candidates)} candidate(s): " + "; ".join(json.dumps(c) for c in candidates))
    outputs = namedtuple("Outputs", ["candidates", "sweep"])
    return outputs(candidates, len(candidates) > 1)
