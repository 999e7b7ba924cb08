"""Helpers that draw the pictures in our HTML reports, self-contained.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: comments rather than docstrings). Charts are PNG images
inside the page (the Kubeflow UI shows HTML artifacts in a sandboxed frame,
often with no network), drawn with matplotlib's object API (no pyplot, no
display), which only the steps that draw install (REPORT_PINS).
"""


# A matplotlib figure as an <img> inside the page: PNG, base64, with its alt text.
#
# Args:
#     figure: A matplotlib Figure.
#     alt: What the chart shows, for readers without images.
def figure_html(figure, alt: str) -> str:
    import base64
    import html
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
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
    import html

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

    figure = Figure(figsize=(5.5, 5))
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

    figure = Figure(figsize=(5.5, 5))
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
        f"<figure>{chart}<figcaption>{html.escape(caption)}</figcaption></figure>"
        for chart, caption in zip(
            charts, ["Predicted against actual", "Residuals against predicted"], strict=True
        )
    )
