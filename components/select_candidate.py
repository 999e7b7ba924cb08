"""Component: rank the cross-validated candidates and pick the best."""

from typing import NamedTuple

from kfp.dsl import HTML, Metrics, Output

from components.runtime import tabular_component
from components.shared import fail
from components.tasks import lower_is_better


@tabular_component
def select_candidate(
    leaderboard: Output[HTML],
    leaderboard_metrics: Output[Metrics],
    results: list,
    candidates: list = [],
) -> NamedTuple("Outputs", best=dict):
    """Ranks every candidate by its mean cross-validation score and returns the best.

    Higher is better, except for losses and errors (``log_loss``, ``rmse``,
    ``mae``, ``mape``, ``max_error``). Ties go to the smaller standard
    deviation, then to the earlier candidate. With no results (a single
    candidate, so no sweep), the first of ``candidates`` is returned as is.

    Args:
        results: The ``cross_validate`` results, one per candidate.
        candidates: The candidates, used when there are no results.

    Returns:
        leaderboard: HTML table of the candidates, best first: mean ± std of
            the score over the folds, fit time per fold, hyperparameters.
        leaderboard_metrics: ``candidates``, ``best_mean``, ``best_std``,
            ``runner_up_mean``.
        best: The hyperparameters of the best candidate.
    """
    import html
    import json
    from collections import namedtuple

    outputs = namedtuple("Outputs", ["best"])
    if not results:
        if not candidates:
            fail("select_candidate got neither results nor candidates.")
        leaderboard_metrics.log_metric("candidates", 1)
        with open(leaderboard.path, "w", encoding="utf-8") as handle:
            handle.write(
                "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Leaderboard</title></head>"
                "<body><h1>Leaderboard</h1><p>A single candidate: no sweep.</p><pre>"
                + html.escape(json.dumps(candidates[0], indent=2))
                + "</pre></body></html>\n"
            )
        return outputs(candidates[0])

    metric = results[0]["metric"]
    sign = 1 if lower_is_better(metric) else -1
    order = sorted(
        range(len(results)), key=lambda i: (sign * results[i]["mean"], results[i]["std"], i)
    )
    ranked = [results[i] for i in order]
    best = ranked[0]
    leaderboard_metrics.log_metric("candidates", len(results))
    leaderboard_metrics.log_metric("best_mean", best["mean"])
    leaderboard_metrics.log_metric("best_std", best["std"])
    if len(ranked) > 1:
        leaderboard_metrics.log_metric("runner_up_mean", ranked[1]["mean"])

    def shown(params):
        # KFP hands whole numbers over as floats in dicts: show 30, not 30.0.
        tidy = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in params.items()
        }
        return html.escape(json.dumps(tidy), quote=False)

    rows = "".join(
        f"<tr><td>{rank}</td><td>{r['mean']:.4f} ± {r['std']:.4f}</td><td>{r['folds']}</td>"
        f"<td>{r['fit_seconds']:.2f}</td><td><code>{shown(r['hyperparameters'])}</code></td></tr>"
        for rank, r in enumerate(ranked, start=1)
    )
    direction = "lower" if lower_is_better(metric) else "higher"
    with open(leaderboard.path, "w", encoding="utf-8") as handle:
        handle.write(
            f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Leaderboard</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 10px}}</style></head><body>
<h1>Leaderboard: {len(ranked)} candidates by cross-validated {html.escape(metric)}</h1>
<p>Scored on the training rows only ({direction} is better); the test rows are kept for the
final evaluation of the winner.</p>
<table><tr><th>rank</th><th>{html.escape(metric)} mean ± std</th><th>folds</th>
<th>fit s per fold</th><th>hyperparameters</th></tr>{rows}</table>
</body></html>
"""
        )
    score = f"{metric} {best['mean']:.4f} ± {best['std']:.4f}"
    print(f"Best of {len(ranked)}: {score} with {best['hyperparameters']}")
    return outputs(best["hyperparameters"])
