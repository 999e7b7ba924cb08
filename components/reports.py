"""Helpers that draw the pictures in our HTML reports, self-contained.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: comments rather than docstrings). Charts are SVG elements
inside the page (the Kubeflow UI shows HTML artifacts in a sandboxed frame,
often with no network), drawn by the small functions below: no drawing
library to install or import.
"""

from components.sampling import curve_line, sampled_rows
from components.tasks import lower_is_better


# The colour of a chart's ``number``-th series (seaborn's "deep" palette).
# (A function, not a constant: only functions are embedded in the components.)
def series_colour(number: int) -> str:
    palette = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
               "#8C8C8C", "#CCB974", "#64B5CD")  # fmt: skip
    return palette[number % len(palette)]


# An SVG element inside the page: its alt text is the chart's accessible name.
#
# SVG rather than a picture: the browser draws the text in its own fonts (any
# script), it stays sharp when zoomed, and it needs no drawing library, which
# cost each charting step 0.8 s of imports and a pod 10 s of pip install
# (matplotlib; measured).
#
# Args:
#     width: Width in pixels.
#     height: Height in pixels.
#     alt: What the chart shows, for readers without images.
#     body: The SVG elements.
def svg(width: float, height: float, alt: str, body: str) -> str:
    import html

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(alt)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="sans-serif" font-size="11"><title>{html.escape(alt)}</title>{body}</svg>'
    )


# Text in an SVG chart, escaped; cut to ``limit`` characters with "…" (the
# whole text then shows as a tooltip).
def svg_text(x, y, text, anchor="middle", size=11, limit=40, extra="") -> str:
    import html

    text = str(text)
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    tip = f"<title>{html.escape(text)}</title>" if shown != text else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{tip}{html.escape(shown)}</text>"
    )


# About five round tick values covering ``low`` to ``high``.
def nice_ticks(low: float, high: float, count: int = 5) -> list:
    import math

    if not high > low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


# A number as a tick label: short, no trailing zeros.
def tick_label(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.2g}"


# A chart of lines and points against two numeric axes, with a legend.
#
# Lines and point clouds are drawn at the resolution of the screen: points that
# fall on the same half pixel are drawn once, so a curve of 200,000 thresholds
# stays a small page (a cloud of 5,000 points is about 100 KB).
#
# Args:
#     series: ``[{"name", "x", "y", "style"}]``; style is "line", "dashed" or
#         "points"; a series without a name has no legend entry.
#     title: Above the chart.
#     labels: The x and y axis labels.
#     alt: What the chart shows, for readers without images.
#     limits: ``(x_low, x_high, y_low, y_high)``; None: from the data.
def xy_chart(series: list, title: str, labels: tuple, alt: str, limits=None) -> str:
    import numpy as np

    width, height, left, right, top, bottom = 400, 340, 58, 12, 28, 44
    xs = np.concatenate([np.asarray(s["x"], dtype=float) for s in series] or [[]])
    ys = np.concatenate([np.asarray(s["y"], dtype=float) for s in series] or [[]])
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    if limits is None and len(xs) and len(ys):
        # 4% of the range on each side; a constant gets a range around it
        pad_x = (xs.max() - xs.min()) * 0.04 or max(abs(xs.max()) * 0.05, 0.5)
        pad_y = (ys.max() - ys.min()) * 0.04 or max(abs(ys.max()) * 0.05, 0.5)
        limits = (xs.min() - pad_x, xs.max() + pad_x, ys.min() - pad_y, ys.max() + pad_y)
    limits = limits or (0, 1, 0, 1)
    x_low, x_high, y_low, y_high = (float(v) for v in limits)
    x_high, y_high = max(x_high, x_low + 1e-9), max(y_high, y_low + 1e-9)
    span_x, span_y = width - left - right, height - top - bottom

    def px(x):
        return left + (np.asarray(x, dtype=float) - x_low) / (x_high - x_low) * span_x

    def py(y):
        return top + (y_high - np.asarray(y, dtype=float)) / (y_high - y_low) * span_y

    parts = [svg_text(width / 2, 16, title, size=12, limit=60)]
    for tick in nice_ticks(x_low, x_high):
        if x_low <= tick <= x_high:
            x = float(px(tick))
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" stroke="#eee"/>'
            )
            parts.append(svg_text(x, height - bottom + 14, tick_label(tick)))
    for tick in nice_ticks(y_low, y_high):
        if y_low <= tick <= y_high:
            y = float(py(tick))
            parts.append(
                f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            parts.append(svg_text(left - 4, y + 4, tick_label(tick), anchor="end"))
    parts.append(
        f'<rect x="{left}" y="{top}" width="{span_x}" height="{span_y}" fill="none" stroke="#888"/>'
    )
    parts.append(svg_text(left + span_x / 2, height - 8, labels[0], limit=60))
    parts.append(
        svg_text(14, top + span_y / 2, labels[1], limit=50,
                 extra=f' transform="rotate(-90 14 {top + span_y / 2:.1f})"')
    )  # fmt: skip
    legend = []
    for number, entry in enumerate(series):
        colour = entry.get("colour", series_colour(number))
        x, y = px(entry["x"]), py(entry["y"])
        keep = np.isfinite(x) & np.isfinite(y)
        points = np.round(np.column_stack([x[keep], y[keep]]) * 2) / 2
        if entry["style"] == "points":
            points = np.unique(points, axis=0)  # one element a point: dense areas darken
            dots = "".join(f'<path d="M{a:g} {b:g}h0"/>' for a, b in points)
            parts.append(
                f'<g stroke="{colour}" stroke-width="4" stroke-linecap="round" '
                f'stroke-opacity="0.4">{dots}</g>'
            )
        else:
            if len(points) > 1:
                moved = np.any(points[1:] != points[:-1], axis=1)
                points = points[np.concatenate([[True], moved[:-1] | moved[1:], [True]])]
            dash = ' stroke-dasharray="5 4"' if entry["style"] == "dashed" else ""
            line = " ".join(f"{a:g},{b:g}" for a, b in points)
            parts.append(
                f'<polyline points="{line}" stroke="{colour}" stroke-width="1.6" '
                f'fill="none"{dash}/>'
            )
        if entry.get("name"):
            legend.append((entry["name"], colour, entry["style"]))
    for row, (name, colour, style) in enumerate(legend):
        y = top + 14 + 15 * row
        dash = ' stroke-dasharray="5 4"' if style == "dashed" else ""
        parts.append(
            f'<line x1="{left + 8}" x2="{left + 26}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="{4 if style == "points" else 2}"{dash}/>'
        )
        parts.append(svg_text(left + 30, y, name, anchor="start", size=10, limit=34))
    return svg(width, height, alt, "".join(parts))


# Horizontal bars, one per name, with optional error whiskers: the SVG body of
# one panel (``bar_chart`` puts panels side by side). Each bar's value shows
# as a tooltip.
#
# Args:
#     names: One label per bar, top to bottom.
#     values: Bar lengths (negative ones point left of zero).
#     errors: Whisker half-widths, or None.
#     colours: One colour per bar.
#     title: Above the panel.
#     label: The x axis label.
#     x: Left edge of the panel; width: its width; label_width: room for names
#         (none drawn when under 20 pixels).
#
# Returns:
#     ``(svg body, height)``.
def bar_panel(names, values, errors, colours, title, label, x, width, label_width):
    import html

    import numpy as np

    top, row = 28, 20
    values = np.asarray(values, dtype=float)
    errors = np.zeros(len(values)) if errors is None else np.asarray(errors, dtype=float)
    low = min(0.0, float((values - errors).min())) if len(values) else 0.0
    high = max(0.0, float((values + errors).max())) if len(values) else 1.0
    high = high if high > low else low + 1
    left, span = x + label_width, width - label_width - 14
    height = top + row * len(values) + 40

    def px(value):
        return left + (value - low) / (high - low) * span

    parts = [svg_text(x + width / 2, 16, title, size=12, limit=int(width / 7))]
    for tick in nice_ticks(low, high, 4):
        if low <= tick <= high:
            parts.append(
                f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{top}" '
                f'y2="{top + row * len(values)}" stroke="#eee"/>'
            )
            parts.append(svg_text(px(tick), top + row * len(values) + 14, tick_label(tick)))
    for number, (name, value, error, colour) in enumerate(
        zip(names, values, errors, colours, strict=True)
    ):
        y = top + row * number
        start, end = sorted((px(0.0), px(value)))
        tip = html.escape(f"{name}: {value:.4g}" + (f" ± {error:.2g}" if error > 0 else ""))
        parts.append(
            f'<rect x="{start:.1f}" y="{y + 3}" width="{max(end - start, 0.5):.1f}" '
            f'height="{row - 6}" fill="{colour}"><title>{tip}</title></rect>'
        )
        if error > 0:
            a, b, middle = px(value - error), px(value + error), y + row / 2
            parts.append(
                f'<path d="M{a:.1f} {middle}H{b:.1f}M{a:.1f} {middle - 4}v8'
                f'M{b:.1f} {middle - 4}v8" '
                'stroke="#222" fill="none"/>'
            )
        if label_width > 20:  # later panels share the first one's names
            parts.append(
                svg_text(
                    left - 5, y + row / 2 + 4, name, anchor="end", limit=int(label_width / 6.2)
                )
            )
    parts.append(
        f'<line x1="{px(0.0):.1f}" x2="{px(0.0):.1f}" y1="{top}" '
        f'y2="{top + row * len(values)}" stroke="#888"/>'
    )
    parts.append(svg_text(left + span / 2, height - 8, label, limit=int(span / 6)))
    return "".join(parts), height


# Horizontal bar charts side by side in one SVG, sharing the bar names.
#
# Args:
#     names: One label per bar, top to bottom.
#     panels: ``[(values, errors or None, colours, title, x axis label)]``.
#     alt: What the chart shows, for readers without images.
def bar_chart(names: list, panels: list, alt: str) -> str:
    label_width = min(230, 12 + 6.2 * max((len(str(n)) for n in names), default=4))
    bodies, x = [], 0
    for number, (values, errors, colours, title, label) in enumerate(panels):
        room = label_width if number == 0 else 16  # later panels share the first one's names
        bodies.append(bar_panel(names, values, errors, colours, title, label, x, 330 + room, room))
        x += 330 + room
    height = max(h for _, h in bodies)
    return svg(x, height, alt, "".join(body for body, _ in bodies))


# A matrix as a heat-map: white to dark blue, the numbers in the cells (up to
# 12 rows) or a colour scale beside it (more).
#
# Args:
#     matrix: A square array.
#     labels: Row and column names.
#     title: Above the map; form: the numbers' format, e.g. "d" or ".2f".
#     axis_labels: The x (columns) and y (rows) axis labels.
#     alt: What the chart shows, for readers without images.
def heat_map(matrix, labels, title, form, axis_labels, alt) -> str:
    import numpy as np

    n = len(labels)
    cell = max(14, min(56, 420 // max(n, 1)))
    margin = min(150, 16 + 6.2 * max(len(str(label)[:22]) for label in labels))
    left, top = margin + 22, 30
    width, height = left + cell * n + 70, top + cell * n + margin + 24
    peak = float(matrix.max()) or 1.0
    parts = [svg_text(left + cell * n / 2, 16, title, size=12, limit=60)]

    def colour(share):  # from #f7fbff to #08306b, as matplotlib's "Blues"
        low, high = np.array([247, 251, 255]), np.array([8, 48, 107])
        r, g, b = (low + (high - low) * share).round().astype(int)
        return f"#{r:02x}{g:02x}{b:02x}"

    for (r, c), value in np.ndenumerate(matrix):
        share = float(value) / peak
        x, y = left + c * cell, top + r * cell
        parts.append(
            f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour(share)}">'
            f"<title>{format(value, form)}</title></rect>"
        )
        if n <= 12:
            fill = "#fff" if share > 0.5 else "#222"
            parts.append(
                svg_text(x + cell / 2, y + cell / 2 + 4, format(value, form), size=10,
                         extra=f' fill="{fill}"')
            )  # fmt: skip
    for i, label in enumerate(labels):
        middle = i * cell + cell / 2
        parts.append(svg_text(left - 4, top + middle + 4, label, anchor="end", size=10, limit=22))
        x, y = left + middle, top + cell * n + 6
        parts.append(
            svg_text(x, y, label, anchor="end", size=10, limit=22,
                     extra=f' transform="rotate(-45 {x:.1f} {y})"')
        )  # fmt: skip
    parts.append(
        svg_text(left + cell * n / 2, height - 6, axis_labels[0])
        + svg_text(10, top + cell * n / 2, axis_labels[1],
                   extra=f' transform="rotate(-90 10 {top + cell * n / 2:.1f})"')
    )  # fmt: skip
    if n > 12:  # the colour scale: ten steps from 0 to the largest value
        x = left + cell * n + 16
        for step in range(10):
            y = top + (9 - step) * cell * n / 10
            parts.append(
                f'<rect x="{x}" y="{y:.1f}" width="12" height="{cell * n / 10 + 0.5:.1f}" '
                f'fill="{colour(step / 9)}"/>'
            )
        parts.append(svg_text(x + 16, top + 8, format(matrix.max(), form), anchor="start"))
        parts.append(svg_text(x + 16, top + cell * n, format(0, form), anchor="start"))
    return svg(width, height, alt, "".join(parts))


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

    truth = np.asarray(truth, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    shown = np.arange(len(truth))
    if len(shown) > 5000:
        shown = np.sort(np.random.default_rng(0).choice(len(truth), 5000, replace=False))
    sampled = f" ({len(shown)} of {len(truth)} rows)" if len(shown) < len(truth) else ""
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    residuals = truth - predicted
    scatter = xy_chart(
        [
            {"x": truth[shown], "y": predicted[shown], "style": "points"},
            {"name": "perfect", "x": [low, high], "y": [low, high], "style": "dashed",
             "colour": "#888"},
        ],
        f"Predicted against actual{sampled}",
        (f"actual {target}", f"predicted {target}"),
        f"Scatter of predicted against actual {target}; on the dashed line the prediction "
        "is exact.",
    )  # fmt: skip
    spread = [float(predicted.min()), float(predicted.max())]
    residual_chart = xy_chart(
        [
            {"x": predicted[shown], "y": residuals[shown], "style": "points"},
            {"x": spread, "y": [0, 0], "style": "dashed", "colour": "#888"},
        ],
        f"Residuals against predicted{sampled}",
        (f"predicted {target}", f"residual: actual - predicted {target}"),
        f"Scatter of residuals (actual minus predicted {target}) against the prediction; a "
        "band around zero means no systematic error.",
    )
    return figure_block(scatter, "Predicted against actual") + figure_block(
        residual_chart, "Residuals against predicted"
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
        "table{border-collapse:collapse;margin-bottom:1.5em;display:block;overflow-x:auto}"
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
def leaderboard_page(board: list, metric: str, rows: int, sample=None) -> str:
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
        settings = json.dumps(tidy(entry["hyperparameters"]))
        if "iterations_run" in entry:
            settings += f"; {entry['iterations_run']} iterations run"
        if "weight" in entry:
            settings += f"; weight {entry['weight']:.2f} in the ensemble"
        lines.append(
            "<tr>" + cell(entry["rank"]) + cell(entry["model"], "text") + cell(score)
            + cell(entry["scored_by"], "text") + cell(f"{entry['rows']:,}") + cell(entry["round"])
            + cell(f"{seconds:.2f}") + cell(settings, "text")
            + "</tr>"
        )  # fmt: skip
    direction = "lower" if lower_is_better(metric) else "higher"
    count = sum(entry["model"] != "ensemble" for entry in board)
    intro = (
        f"<p>{count} candidate(s) for {rows:,} training rows, ranked by {html.escape(metric)}"
        f" ({direction} is better), scored on the training rows only: the test rows are kept "
        "for the final evaluation of the winner. ± is the spread of the score over five parts "
        "of the scored rows. The winner comes first: an ensemble, the weighted average of the "
        "last round's candidates chosen greedily on their held-out predictions (Caruana et al., "
        "2004), where that weights two or more (its members follow it, with their weights); "
        "else the top score of the last round. "
        "Candidates that went on to a later "
        "round rank next. Seconds: "
        "fitting and scoring in every round, plus the refit of a winner scored on held-out "
        "rows. Gradient boosting's iterations run: those of its last scoring fit, or for a "
        "refitted winner, of the saved model.</p>"
    )
    if len(board) == 1:
        intro = "<p>A single candidate, fitted on every training row: no selection.</p>"
    if sample:  # how many rows of the table the model was fitted on, and whether more would pay
        intro = f"<p>Trained on {html.escape(sampled_rows(sample))}.</p>" + intro
        if "learning_curve" in sample:
            intro += f"<p>{html.escape(curve_line(sample['learning_curve'], metric))}</p>"
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
    names = [f"{e['rank']}. {e['model']} (round {e['round']})" for e in board]
    winner = ["#DD8452" if e["rank"] == 1 else "#4C72B0" for e in board]
    chart = bar_chart(
        names,
        [
            (
                [e["score"] or 0 for e in board],
                [e["spread"] or 0 for e in board],
                winner,
                f"Score by {metric}",
                f"{metric} (± spread)",
            ),
            (
                [e["fit_seconds"] + e.get("refit_seconds", 0) for e in board],
                None,
                ["#4C72B0"] * len(board),
                "Cost",
                "seconds spent fitting and scoring",
            ),
        ],
        f"Bar charts of each candidate's {metric} with its spread, and of its cost in seconds.",
    )
    return figure_block(chart, "Score and cost of each candidate")


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
#     threshold: A binary model's tuned decision threshold, marked on the
#         precision-recall curve and deciding the confusion matrix; or None.
#
# Returns:
#     HTML: one <figure> per chart.
def classification_charts(truth, proba, classes, threshold=None) -> str:
    import numpy as np
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

    decided = np.asarray(classes)[proba.argmax(axis=1)]
    marks = []
    if threshold is not None and len(classes) == 2:
        decided = np.asarray(classes)[(proba[:, 1] >= threshold).astype(int)]
        chosen, actual = decided == classes[1], truth == classes[1]
        hits = float((chosen & actual).sum())
        at = {"x": [hits / max(actual.sum(), 1)], "y": [hits / max(chosen.sum(), 1)]}
        marks = [
            {"name": f"threshold {threshold:.3f}", **at, "style": "points", "colour": "#d62728"}
        ]

    def curves(points, title, axis_labels, diagonal, alt, caption, extra=()):
        series = []
        for i, name in shown:
            x, y = points(truth == classes[i], proba[:, i])
            series.append({"name": name, "x": x, "y": y, "style": "line"})
        series += extra
        if diagonal:
            series.append(
                {"name": diagonal, "x": [0, 1], "y": [0, 1], "style": "dashed", "colour": "#888"}
            )
        chart = xy_chart(series, title, axis_labels, alt, limits=(-0.02, 1.02, -0.02, 1.05))
        blocks.append(figure_block(chart, caption))

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
        "Precision-recall" + (" (the dot: the model's decision threshold)" if marks else ""),
        marks,
    )
    curves(
        lambda y, p: calibration_curve(y, p, n_bins=bins)[::-1],  # predicted, observed
        "Calibration curve",
        ("predicted probability", "observed share of the class"),
        "perfectly calibrated",
        "Calibration: the observed share of a class against its predicted probability, by bin.",
        "Calibration",
    )

    counts = confusion_matrix(truth, decided, labels=classes)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    if len(classes) <= 30:
        for matrix, title, form in (
            (counts, "counts", "d"),
            (shares, "share of each true class", ".2f"),
        ):
            alt = f"Confusion matrix heat-map ({title}): rows are true classes, columns predicted."
            chart = heat_map(
                matrix,
                labels,
                f"Confusion matrix: {title}",
                form,
                ("predicted class", "true class"),
                alt,
            )
            blocks.append(figure_block(chart, f"Confusion matrix, {title}"))
    return "".join(blocks)


# Balanced accuracy (the mean recall over the true classes) and R², as
# scikit-learn computes them, in plain numpy: permutation importance scores
# a hundred shuffled copies or more, and scikit-learn's checks cost 1.3 ms a
# call on 30 rows (measured). A test compares them with scikit-learn's.
def plain_balanced_accuracy(truth, predicted) -> float:
    import numpy as np

    classes, index = np.unique(np.asarray(truth), return_inverse=True)
    hits = np.bincount(index, weights=np.asarray(predicted) == np.asarray(truth))
    return float(np.mean(hits / np.bincount(index)))


def plain_r2(truth, predicted) -> float:
    import numpy as np

    truth, predicted = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
    residual = np.sum((truth - predicted) ** 2)
    total = np.sum((truth - truth.mean()) ** 2)
    if total == 0:  # a constant truth: 1 when predicted exactly, else 0
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


# Permutation importance of each raw column on the test rows: how much the
# model's score drops when that column's values are shuffled, the whole
# pipeline scoring (so a one-hot-encoded text column counts once).
#
# The same measure as scikit-learn's ``permutation_importance``, computed in
# fewer calls: the shuffled copies are stacked and predicted together, about
# two million cells a call (a forest's fixed cost per call dominated on small
# test sets: 41 calls of 43 ms on 30 rows, measured), and scored in plain
# numpy. Bounded by the size of the data, not by a clock, so that the same
# model and rows always give the same importances: at most 40,000 shuffled rows
# predicted (on 2 cores: 0.7 s for a 100-tree forest grown on 80,000 rows, 1.8 s
# for gradient boosting's 413 iterations there, measured), and at most 30,000,000
# cells (rows times columns: the cost of a row grows with the columns; 2,000
# columns cost 0.4 s a pass of 50 rows, measured).
# Within that: up to 1,000 rows (a seeded sample) and up to 5 repeats; on a
# wide table one repeat on fewer rows, and not computed at all below 30 rows.
#
# Args:
#     estimator: The fitted Pipeline.
#     inputs: The test rows' feature columns; with ``total``, only the rows
#         ``importance_rows(total, columns)`` names (a step that streams the
#         test rows keeps those alone).
#     truth: Their true targets.
#     metric: "balanced_accuracy" (classification) or "r2" (regression).
#     total: The number of test rows, when ``inputs`` holds the sampled ones only.
#
# Returns:
#     ``(importances, notes)``: one dict per column, most important first:
#     column, mean, std (none when not computed); and what was sampled, or why
#     nothing was, in words.
def permutation_importances(estimator, inputs, truth, metric: str, total=None):
    import warnings

    import numpy as np
    import pandas as pd

    score = plain_r2 if metric == "r2" else plain_balanced_accuracy
    columns = inputs.shape[1]
    given, total = total is not None, len(inputs) if total is None else total
    rows, repeats, budget = importance_rows(total, columns)
    if rows is None:
        reason = f"shuffling each of the {columns:,} columns in turn would pass the budget"
        return [], f"{reason} of this report ({budget:,} rows predicted), even on 30 rows"
    sample = inputs if given else inputs.iloc[rows]
    predicted = estimator.predict(sample)
    sample = sample.reset_index(drop=True)
    labels = np.asarray(truth) if given else np.asarray(truth)[rows]
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
        # repeats x columns
        drops = baseline - np.array([shuffled_scores() for _ in range(repeats)])
    means, spreads = drops.mean(axis=0), drops.std(axis=0)
    importances = [
        {
            "column": str(inputs.columns[i]),
            "mean": round(float(means[i]), 6),
            "std": round(float(spreads[i]), 6),
        }
        for i in np.argsort(-means, kind="stable")
    ]
    note = f"{len(rows):,} of {total:,} test rows, {repeats} repeat(s), scored by {metric}"
    return importances, note


# The test rows ``permutation_importances`` shuffles, of ``total`` rows with
# ``columns`` feature columns: up to 1,000 (a seeded sample), with up to 5
# repeats, within its budget (see there).
#
# Returns:
#     ``(rows, repeats, budget)``: the sorted row numbers, or None when even 30
#     rows would pass the budget.
def importance_rows(total: int, columns: int):
    import numpy as np

    budget = min(40_000, 30_000_000 // max(columns, 1))  # shuffled rows to predict in all
    size = min(total, 1000)
    repeats = min(5, budget // max(columns * size, 1))
    if repeats == 0:  # a wide table: one repeat, on as many rows as the budget allows
        size, repeats = budget // columns, 1
        if size < min(total, 30):
            return None, 0, budget
    rows = np.arange(total)
    if size < len(rows):
        rows = np.sort(np.random.default_rng(0).choice(len(rows), size, replace=False))
    return rows, repeats, budget


# A bar chart of the most important columns (at most 20), with their spread.
#
# Args:
#     importances: From ``permutation_importances``.
#     note: What was sampled, for the title.
def importance_chart(importances: list, note: str) -> str:
    top = importances[:20]
    chart = bar_chart(
        [entry["column"] for entry in top],
        [
            (
                [entry["mean"] for entry in top],
                [entry["std"] for entry in top],
                ["#4C72B0"] * len(top),
                "Permutation importance of the raw columns",
                "drop in score when the column is shuffled",
            )
        ],
        f"Bar chart of how much the test score drops when each column is shuffled ({note}).",
    )
    return figure_block(chart, "Permutation importance")


# Small bar charts side by side in one SVG, four to a row: one panel per
# column, each with one series of bars (a distribution) or two (training
# against scoring), labelled at the first, middle and last bar (every bar's
# label and height show as a tooltip). At most 12 panels; the caption says how
# many were left out.
#
# Args:
#     panels: ``[(title, labels, {series name: values}), ...]``.
#     title: The image's title.
#     unit: What the bars measure, for the y axes, e.g. "rows" or "share of rows".
#     caption: The figure's caption.
def bar_panels(panels: list, title: str, unit: str, caption: str) -> str:
    import html

    import numpy as np

    if not panels:  # e.g. a table with no feature columns
        return "<p>No column to chart.</p>"
    shown, left = panels[:12], len(panels) - 12
    across = min(4, len(shown))
    down = -(-len(shown) // across)
    panel_width, panel_height, top = 250, 190, 30
    parts = [svg_text(panel_width * across / 2, 18, title, size=13, limit=90)]
    for number, (name, labels, series) in enumerate(shown):
        x0 = panel_width * (number % across) + 46
        y0 = top + panel_height * (number // across) + 22
        width, height = panel_width - 60, panel_height - 70
        parts.append(svg_text(x0 + width / 2, y0 - 8, name, size=11, limit=34))
        peak = max((float(np.max(v)) for v in series.values() if len(v)), default=0.0) or 1.0
        ticks = [t for t in nice_ticks(0, peak, 3) if t <= peak]
        for tick in ticks:
            y = y0 + height - tick / peak * height
            parts.append(
                f'<line x1="{x0}" x2="{x0 + width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            parts.append(svg_text(x0 - 3, y + 3, tick_label(tick), anchor="end", size=9))
        slot = width / max(len(labels), 1)
        bar = slot * 0.8 / len(series)
        for s, (series_name, values) in enumerate(series.items()):
            colour = series_colour(s)
            for i, value in enumerate(values):
                h = float(value) / peak * height
                x = x0 + slot * i + slot * 0.1 + bar * s
                tip = html.escape(f"{labels[i]}: {value:.4g} ({series_name})")
                parts.append(
                    f'<rect x="{x:.1f}" y="{y0 + height - h:.1f}" width="{bar:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{tip}</title></rect>'
                )
        parts.append(
            f'<line x1="{x0}" x2="{x0 + width}" y1="{y0 + height}" y2="{y0 + height}" '
            'stroke="#888"/>'
        )
        for i in sorted({0, len(labels) // 2, len(labels) - 1}):  # first, middle, last
            parts.append(
                svg_text(x0 + slot * (i + 0.5), y0 + height + 12, labels[i], size=9, limit=10)
            )
        parts.append(
            svg_text(x0 - 34, y0 + height / 2, unit, size=9,
                     extra=f' transform="rotate(-90 {x0 - 34} {y0 + height / 2:.1f})"')
        )  # fmt: skip
        if len(series) > 1:
            for s, series_name in enumerate(series):
                y = y0 + height + 26 + 12 * s
                parts.append(
                    f'<rect x="{x0}" y="{y - 8}" width="10" height="8" fill="{series_colour(s)}"/>'
                )
                parts.append(svg_text(x0 + 14, y, series_name, anchor="start", size=9))
    if left > 0:
        caption += f" (the first 12 columns; {left} more in the table)"
    alt = f"{title}: one small bar chart per column."
    chart = svg(panel_width * across, top + panel_height * down, alt, "".join(parts))
    return figure_block(chart, caption)


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
        numbers = present.astype(float)
        try:
            counts, edges = np.histogram(numbers, bins=20)
        except ValueError:  # a range too narrow for bins at its magnitude (e.g. one 4.5e15)
            counts, edges = np.array([len(numbers)]), np.array([numbers.min(), numbers.max()])
        return name, [f"{edge:.3g}" for edge in edges[:-1]], {"rows": counts}
    top = present.astype(str).value_counts().head(10)
    return name, list(top.index), {"rows": top.to_numpy()}
