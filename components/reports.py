"""Helpers that draw the pictures in our HTML reports, self-contained.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: comments rather than docstrings). Charts are PNG images
inside the page (the Kubeflow UI shows HTML artifacts in a sandboxed frame,
often with no network), drawn with matplotlib's object API (no pyplot, no
display), which only the steps that draw install (REPORT_PINS).
"""

from components.tasks import lower_is_better


# A matplotlib figure as an <img> inside the page: PNG, base64, with its alt text.
#
# 80 dots per inch, cropped to what is drawn: readable, and quick to draw
# (each chart costs a step a few tenths of a second; measured). A column name in
# a script the font lacks is drawn as boxes; the warning about it is not printed
# (one per missing glyph, it drowned the step's log).
#
# Args:
#     figure: A matplotlib Figure.
#     alt: What the chart shows, for readers without images.
#     crop: Crop to what is drawn (a second layout pass; off for large grids).
def figure_html(figure, alt: str, crop: bool = True) -> str:
    import base64
    import html
    import io
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight" if crop else None)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


# The regression charts: predicted against actual, and residuals against predicted.
#
# At most 5,000 points are drawn (a seeded sample); the titles say so.
#
# Args:
#     truth: True values.
#     predicted: Predicted values.
#     target: The target column's name, for the axis labels.
#
# Returns:
#     HTML: two <figure> elements.
def regression_charts(truth, predicted, target: str) -> str:

    import numpy as np
    from matplotlib.figure import Figure

    truth = np.asarray(truth, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    shown = np.arange(len(truth))
    if len(shown) > 5000:
        shown = np.sort(np.random.default_rng(0).choice(len(truth), 5000, replace=False))
    sampled = f" ({len(shown)} of {len(truth)} rows)" if len(shown) < len(truth) else ""
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    charts = []

    figure = Figure(figsize=(4.8, 4.4))
    axes = figure.add_subplot()
    axes.scatter(truth[shown], predicted[shown], s=8, alpha=0.5)
    axes.plot([low, high], [low, high], color="grey", linestyle="--", label="perfect")
    axes.set(xlabel=f"actual {target}", ylabel=f"predicted {target}")
    axes.set_title(f"Predicted against actual{sampled}")
    axes.legend(loc="upper left")
    charts.append(
        figure_html(
            figure,
            f"Scatter of predicted against actual {target}; on the dashed line "
            "the prediction is exact.",
        )  # fmt: skip
    )

    figure = Figure(figsize=(4.8, 4.4))
    axes = figure.add_subplot()
    axes.scatter(predicted[shown], (truth - predicted)[shown], s=8, alpha=0.5)
    axes.axhline(0, color="grey", linestyle="--")
    axes.set(xlabel=f"predicted {target}", ylabel=f"residual: actual - predicted {target}")
    axes.set_title(f"Residuals against predicted{sampled}")
    charts.append(
        figure_html(
            figure,
            f"Scatter of residuals (actual minus predicted {target}) against the "
            "prediction; a band around zero means no systematic error.",
        )  # fmt: skip
    )
    return "".join(
        figure_block(chart, caption)
        for chart, caption in zip(
            charts, ["Predicted against actual", "Residuals against predicted"], strict=True
        )
    )


# A whole report page: the shared head and style, then ``body``.
#
# Args:
#     title: The page's title and first heading.
#     body: HTML after the heading.
def html_page(title: str, body: str) -> str:
    import html

    style = (
        "body{font-family:sans-serif;margin:1.5em;max-width:75em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        "td.text,th.text{text-align:left}figure{display:inline-block;margin:0 1em 1em 0}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}\n"
        "</body></html>\n"
    )


# The leaderboard page: every candidate, best first, as a table, with the
# entries as JSON in a <script type="application/json" id="leaderboard"> element.
#
# Args:
#     board: Entries from ``choose_candidate``.
#     metric: The selection metric.
#     rows: Training rows.
def leaderboard_page(board: list, metric: str, rows: int) -> str:
    import html
    import json

    def cell(text, kind=""):
        return f'<td class="{kind}">{html.escape(str(text))}</td>'

    def tidy(params):  # KFP hands whole numbers over as floats in dicts: 30, not 30.0
        return {
            k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in params.items()
            if k != "model"
        }

    lines = []
    for entry in board:
        score = "—" if entry["score"] is None else f"{entry['score']:.4f} ± {entry['spread']:.4f}"
        seconds = entry["fit_seconds"] + entry.get("refit_seconds", 0)
        lines.append(
            "<tr>" + cell(entry["rank"]) + cell(entry["model"], "text") + cell(score)
            + cell(entry["scored_by"], "text") + cell(f"{entry['rows']:,}") + cell(entry["round"])
            + cell(f"{seconds:.2f}") + cell(json.dumps(tidy(entry["hyperparameters"])), "text")
            + "</tr>"
        )  # fmt: skip
    direction = "lower" if lower_is_better(metric) else "higher"
    intro = (
        f"<p>{len(board)} candidate(s) for {rows:,} training rows, ranked by {html.escape(metric)}"
        f" ({direction} is better), scored on the training rows only: the test rows are kept "
        "for the final evaluation of the winner. ± is the spread of the score over five parts "
        "of the scored rows. The winner comes first: the earliest candidate in the search space "
        "whose score is within one spread of the top score. Candidates that went on to a later "
        "round rank next. Seconds: "
        "fitting and scoring in every round, plus the refit of a winner scored on held-out "
        "rows.</p>"
    )
    if len(board) == 1:
        intro = "<p>A single candidate, fitted on every training row: no selection.</p>"
    table = (
        "<table><tr><th>rank</th><th class='text'>model</th>"
        f"<th>{html.escape(metric)} ± spread</th><th class='text'>scored by</th><th>rows</th>"
        "<th>round</th><th>seconds</th><th class='text'>hyperparameters</th></tr>"
        + "".join(lines)
        + "</table>"
    )
    data = json.dumps(board).replace("</", "<\\/")
    script = f'<script type="application/json" id="leaderboard">{data}</script>'
    chart = leaderboard_chart(board, metric) if len(board) > 1 else ""
    return html_page("Leaderboard", intro + chart + table + script)


# Two bar charts side by side: each candidate's score with its spread, and the
# seconds spent on it.
#
# Args:
#     board: Entries from ``choose_candidate``, winner first.
#     metric: The selection metric.
def leaderboard_chart(board: list, metric: str) -> str:
    from matplotlib.figure import Figure

    entries = board[::-1]  # the winner on top
    names = [f"{e['rank']}. {e['model']} (round {e['round']})" for e in entries]
    figure = Figure(figsize=(10, 1.4 + 0.4 * len(entries)))
    scores, costs = figure.subplots(1, 2, sharey=True)
    scores.barh(
        names,
        [e["score"] or 0 for e in entries],
        xerr=[e["spread"] or 0 for e in entries],
        color=["#DD8452" if e["rank"] == 1 else "#4C72B0" for e in entries],
    )
    scores.set(xlabel=f"{metric} (± spread)")
    scores.set_title(f"Score by {metric}")
    costs.barh(names, [e["fit_seconds"] + e.get("refit_seconds", 0) for e in entries])
    costs.set(xlabel="seconds spent fitting and scoring")
    costs.set_title("Cost")
    alt = f"Bar charts of each candidate's {metric} with its spread, and of its cost in seconds."
    return figure_block(figure_html(figure, alt), "Score and cost of each candidate")


# A chart and its caption as one <figure>.
def figure_block(chart: str, caption: str) -> str:
    import html

    return f"<figure>{chart}<figcaption>{html.escape(caption)}</figcaption></figure>"


# The classification charts: ROC and precision-recall curves (one for two
# classes, one-vs-rest per class for more, at most 10 classes drawn), a
# calibration curve, and the confusion matrix as heat-maps of counts and of
# shares of each true class.
#
# Args:
#     truth: True classes.
#     proba: Predicted probabilities, one column per class of ``classes``.
#     classes: The model's classes.
#
# Returns:
#     HTML: one <figure> per chart.
def classification_charts(truth, proba, classes) -> str:
    import numpy as np
    from matplotlib.figure import Figure
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import confusion_matrix, precision_recall_curve, roc_curve

    truth, proba = np.asarray(truth), np.asarray(proba)
    labels = [str(label) for label in classes]
    if len(classes) == 2:
        shown = [(1, f"{labels[1]} (positive class)")]
    else:
        shown = [(i, f"{labels[i]} vs rest") for i in range(min(len(classes), 10))]
    shown = [(i, name) for i, name in shown if 0 < (truth == classes[i]).sum() < len(truth)]
    blocks = []

    def curves(points, title, axis_labels, diagonal, alt, caption):
        figure = Figure(figsize=(4.8, 4.4))
        axes = figure.add_subplot()
        for i, name in shown:
            x, y = points(truth == classes[i], proba[:, i])
            axes.plot(x, y, label=name)
        if diagonal:
            axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label=diagonal)
        axes.set(xlabel=axis_labels[0], ylabel=axis_labels[1], ylim=(-0.02, 1.05))
        axes.set_title(title)
        if shown or diagonal:
            axes.legend(loc="best", fontsize="small")
        blocks.append(figure_block(figure_html(figure, alt), caption))

    several = "s, one-vs-rest" if len(classes) > 2 else ""
    bins = max(2, min(10, len(truth) // 20))
    curves(
        lambda y, p: roc_curve(y, p)[:2],
        f"ROC curve{several}",
        ("false positive rate", "true positive rate"),
        "chance",
        "ROC curve: true positive rate against false positive rate as the threshold moves.",
        "ROC",
    )
    curves(
        lambda y, p: precision_recall_curve(y, p)[1::-1],  # recall, precision
        f"Precision-recall curve{several}",
        ("recall", "precision"),
        "",
        "Precision against recall as the threshold moves; the higher, the better.",
        "Precision-recall",
    )
    curves(
        lambda y, p: calibration_curve(y, p, n_bins=bins)[::-1],  # predicted, observed
        "Calibration curve",
        ("predicted probability", "observed share of the class"),
        "perfectly calibrated",
        "Calibration: the observed share of a class against its predicted probability, by bin.",
        "Calibration",
    )

    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    counts = confusion_matrix(truth, predicted, labels=classes)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    if len(classes) <= 30:
        size = min(12, 3 + 0.45 * len(classes))
        for matrix, title, form in (
            (counts, "counts", "d"),
            (shares, "share of each true class", ".2f"),
        ):  # noqa: E501
            figure = Figure(figsize=(size + 1, size))
            axes = figure.add_subplot()
            image = axes.imshow(matrix, cmap="Blues")
            if len(classes) > 12:  # no numbers in the cells: a colour scale instead
                figure.colorbar(image, ax=axes)
            ticks = range(len(labels))
            axes.set_xticks(ticks, labels, rotation=45, ha="right")
            axes.set_yticks(ticks, labels)
            axes.set(xlabel="predicted class", ylabel="true class")
            axes.set_title(f"Confusion matrix: {title}")
            if len(classes) <= 12:
                for (r, c), value in np.ndenumerate(matrix):
                    dark = value > matrix.max() / 2
                    axes.text(c, r, format(value, form), ha="center", va="center",
                              color="white" if dark else "black", fontsize="small")  # fmt: skip
            alt = f"Confusion matrix heat-map ({title}): rows are true classes, columns predicted."
            blocks.append(figure_block(figure_html(figure, alt), f"Confusion matrix, {title}"))
    return "".join(blocks)


# Permutation importance of each raw column on the test rows: how much the
# model's score drops when that column's values are shuffled, the whole
# pipeline scoring (so a one-hot-encoded text column counts once).
#
# The same measure as scikit-learn's ``permutation_importance``, computed in
# fewer calls: the shuffled copies are stacked and predicted together, about
# two million cells a call. A forest's fixed cost per call dominated on small
# test sets (41 calls of 43 ms on 30 rows, measured). Bounded in time, about
# 2 s: at most 1,000 rows (a seeded sample), fewer when predicting a copy of
# them for every column would pass the budget (the cost of a row grows with the
# columns), and not computed at all below 30 rows (a wide table: 2,000 columns
# cost 0.4 s a pass of 50 rows, measured); 5 repeats, fewer (down to 1) when
# the first repeat shows that five would pass the budget.
#
# Args:
#     estimator: The fitted Pipeline.
#     inputs: The test rows' feature columns.
#     truth: Their true targets.
#     metric: "balanced_accuracy" (classification) or "r2" (regression).
#
# Returns:
#     ``(importances, notes)``: one dict per column, most important first:
#     column, mean, std (none when not computed); and what was sampled, or why
#     nothing was, in words.
def permutation_importances(estimator, inputs, truth, metric: str):
    import time
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn import metrics as sk

    score = sk.r2_score if metric == "r2" else sk.balanced_accuracy_score
    rows = np.arange(len(inputs))
    if len(rows) > 1000:
        rows = np.sort(np.random.default_rng(0).choice(len(rows), 1000, replace=False))
    columns = inputs.shape[1]
    started = time.perf_counter()
    predicted = estimator.predict(inputs.iloc[rows])
    per_row = (time.perf_counter() - started) / max(len(rows), 1)
    affordable = int(2 / max(per_row * columns, 1e-12))  # rows of each column's copy
    if affordable < min(len(rows), 30):
        reason = f"shuffling each of the {columns:,} columns in turn would pass the budget"
        return [], f"{reason} of about 2 s for this report, even on 30 rows"
    if affordable < len(rows):
        rows = np.sort(np.random.default_rng(1).choice(rows, affordable, replace=False))
        predicted = estimator.predict(inputs.iloc[rows])
    sample, labels = inputs.iloc[rows].reset_index(drop=True), np.asarray(truth)[rows]
    rng = np.random.default_rng(0)
    per_call = max(1, 2_000_000 // max(len(rows) * columns, 1))

    # The score with column j shuffled, for every column: one list per repeat.
    def shuffled_scores():
        scores = []
        for first in range(0, columns, per_call):
            copies = []
            for column in range(first, min(first + per_call, columns)):
                copy = sample.copy()
                values = sample.iloc[:, column]
                copy.isetitem(
                    column, values.iloc[rng.permutation(len(rows))].set_axis(values.index)
                )
                copies.append(copy)
            stacked = estimator.predict(pd.concat(copies, ignore_index=True))
            scores += [score(labels, part) for part in np.split(stacked, len(copies))]
        return scores

    with warnings.catch_warnings():  # e.g. a class absent from the sampled rows
        warnings.simplefilter("ignore")
        baseline = score(labels, predicted)
        started = time.perf_counter()
        repeats = [shuffled_scores()]
        planned = int(max(1, min(5, 2 / max(time.perf_counter() - started, 1e-9))))
        repeats += [shuffled_scores() for _ in range(planned - 1)]
    drops = baseline - np.array(repeats)  # repeats x columns
    means, spreads = drops.mean(axis=0), drops.std(axis=0)
    importances = [
        {
            "column": str(inputs.columns[i]),
            "mean": round(float(means[i]), 6),
            "std": round(float(spreads[i]), 6),
        }
        for i in np.argsort(-means, kind="stable")
    ]
    note = f"{len(rows):,} of {len(inputs):,} test rows, {planned} repeat(s), scored by {metric}"
    return importances, note


# A bar chart of the most important columns (at most 20), with their spread.
#
# Args:
#     importances: From ``permutation_importances``.
#     note: What was sampled, for the title.
def importance_chart(importances: list, note: str) -> str:
    from matplotlib.figure import Figure

    top = importances[:20][::-1]
    figure = Figure(figsize=(7, 1.2 + 0.3 * len(top)))
    axes = figure.add_subplot()
    axes.barh(
        [entry["column"] for entry in top],
        [entry["mean"] for entry in top],
        xerr=[entry["std"] for entry in top],
        color="#4C72B0",
    )
    axes.axvline(0, color="grey", linewidth=0.8)
    axes.set(xlabel="drop in score when the column is shuffled")
    axes.set_title(f"Permutation importance of the raw columns\n({note})", fontsize="medium")
    alt = "Bar chart of how much the test score drops when each column is shuffled."
    return figure_block(figure_html(figure, alt), "Permutation importance")


# Small bar charts side by side in one image, four to a row: one panel per
# column, each with one series of bars (a distribution) or two (training
# against scoring). At most 12 panels, each with a few tick labels (drawing
# costs about 0.1 s a panel, measured); the caption says how many were left out.
#
# Args:
#     panels: ``[(title, labels, {series name: values}), ...]``.
#     title: The image's title.
#     unit: What the bars measure, for the y axes, e.g. "rows" or "share of rows".
#     caption: The figure's caption.
def bar_panels(panels: list, title: str, unit: str, caption: str) -> str:
    import numpy as np
    from matplotlib.figure import Figure

    if not panels:  # e.g. a table with no feature columns
        return "<p>No column to chart.</p>"
    shown, left = panels[:12], len(panels) - 12
    across = min(4, len(shown))
    down = -(-len(shown) // across)
    figure = Figure(figsize=(3.6 * across, 2.6 * down + 0.8))
    figure.subplots_adjust(hspace=0.75, wspace=0.35, top=1 - 0.9 / (2.6 * down + 0.8))
    grid = np.atleast_1d(figure.subplots(down, across, squeeze=False).ravel())
    for axes, (name, labels, series) in zip(grid, shown, strict=False):
        positions = np.arange(len(labels))
        width = 0.8 / len(series)
        for number, (label, values) in enumerate(series.items()):
            offset = (number - (len(series) - 1) / 2) * width
            axes.bar(positions + offset, values, width=width, label=label)
        ticks = sorted({0, len(labels) // 2, len(labels) - 1})  # first, middle, last
        axes.set_xticks(ticks, [str(labels[i])[:10] for i in ticks], fontsize="x-small")
        axes.tick_params(axis="y", labelsize="x-small")
        axes.set_title(str(name)[:40], fontsize="small")
        axes.set_ylabel(unit, fontsize="x-small")
        if len(series) > 1:
            axes.legend(fontsize="x-small")
    for axes in grid[len(shown) :]:
        axes.set_visible(False)
    figure.suptitle(title)
    if left > 0:
        caption += f" (the first 12 columns; {left} more in the table)"
    alt = f"{title}: one small bar chart per column."
    return figure_block(figure_html(figure, alt, crop=False), caption)


# One panel for ``bar_panels`` describing a column's values: a 20-bin
# histogram for numbers, the counts of the 10 most frequent values otherwise.
#
# Args:
#     name: The column's name.
#     values: The column (pandas Series).
#     numeric: Whether it holds numbers.
def value_panel(name, values, numeric: bool):
    import numpy as np

    present = values.dropna()
    if numeric and len(present):
        counts, edges = np.histogram(present.astype(float), bins=20)
        return name, [f"{edge:.3g}" for edge in edges[:-1]], {"rows": counts}
    top = present.astype(str).value_counts().head(10)
    return name, list(top.index), {"rows": top.to_numpy()}
