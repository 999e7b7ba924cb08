"""Component: compare the rows to score with the data the model was trained on."""

from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components.reports import bar_panels, html_page
from components.runtime import TABLE_PINS, tabular_component
from components.scoring import drift_counts, drift_profiles, merge_counts, prepare_rows
from components.shared import exit_quickly, fail, read_model_metadata
from components.storage import local_path
from components.tables import iter_table, table_parts
from components.versions import model_path


@tabular_component(packages=TABLE_PINS)
def detect_drift(
    model: Input[Model],
    data: Input[Dataset],
    report: Output[HTML],
    metrics: Output[Metrics],
    max_psi: float = 0.0,
    max_new_category_share: float = 0.0,
    max_missing_change: float = 0.0,
    delimiter: str = "auto",
    decimal: str = "auto",
    encoding: str = "auto",
    chunk_rows: int = 100_000,
):
    """Measures, column by column, how far the rows to score are from the training rows.

    Against the schema recorded by ``train_model``:

    * numeric columns: the population stability index (PSI) over the training
      deciles, ``sum((a - e) * ln(a / e))`` (half a row added to each bin of the
      rows to score, training shares floored at 0.0001). Below
      0.1 is usually read as stable, 0.1 to 0.25 as a moderate shift, above 0.25
      as a major one. Without drift, sampling alone gives PSI about
      ``chi2(bins - 1) * (1/n_now + 1/n_train)``; a shift (and ``max_psi``)
      counts only above its 99.9th percentile (``psi_chance_limit``);
    * categorical columns: the share of values never seen in training;
    * every column: the change in the share of missing values (for date
      columns, values that do not parse count as missing; their dates are not
      compared, as new rows are expected to be later).

    A column is ``drifted`` when any measure crosses its limit: PSI above
    ``max_psi`` (0.25 when unset) and above chance; an unseen-category share
    above ``max_new_category_share`` (0.25 when unset); a change in the missing
    share above ``max_missing_change`` (0.2 when unset) and above what chance
    reaches 1% of the time with this many rows. A column whose values are all
    unseen, or empty now but filled in training, is always ``drifted``. PSI
    between 0.1 and 0.25 above chance is a ``moderate shift``.

    The same schema checks as ``batch_predict`` apply: a missing feature column
    or text in a numeric one stops the step with a clear error. The table (CSV
    or Parquet, a file or a folder of parts) is read in chunks of
    ``chunk_rows`` rows, only its feature columns; the figures come from counts
    that add up over the chunks, so they do not depend on the chunk size.

    Args:
        model: Model directory from ``train_model`` (only ``metadata.json`` is read).
        data: Table of rows to score, as ``batch_predict`` reads it.
        max_psi: Stop the run when a column's PSI exceeds this; 0 never stops.
        max_new_category_share: Stop the run when a column's share of unseen
            categories exceeds this; 0 never stops.
        max_missing_change: Stop the run when a column's missing share moved by
            more than this (either way); 0 never stops.
        delimiter: Field separator of the CSV, or ``auto``.
        decimal: Decimal mark of the CSV, ``.`` or ``,``, or ``auto``.
        encoding: Text encoding of the CSV, or ``auto``.
        chunk_rows: Rows read at a time.

    Returns:
        report: HTML page with one row per feature: PSI or unseen-category share,
            missing share in training and now, and a verdict; and for each
            column not stable (when all are, the four with the largest PSI), a
            chart of its training against its scoring distribution. The
            Kubeflow UI renders it.
        metrics: ``rows``, ``max_psi``, ``max_new_category_share``,
            ``max_missing_share_change``, ``columns_drifted``.
    """
    import numpy as np
    import pandas as pd

    meta = read_model_metadata(*model_path(model))
    features = meta["features"]
    location = local_path(data)
    wanted = {feature["name"] for feature in features}
    totals = {}
    for part, names, options, first_row, chunk in iter_table(
        table_parts(location, data.uri), data.uri, chunk_rows, 0, None, None, delimiter, decimal,
        encoding, location,
    ):  # fmt: skip
        named = data.uri if part == location else data.uri + part[len(location) :]
        chunk = chunk.select([name for name in names if name in wanted])
        inputs = prepare_rows(chunk, features, named, options, first_row)
        totals = merge_counts(totals, drift_counts(inputs, features))
    if not totals:
        fail(f"{data.uri}: a header but no data rows. Provide a table with data rows.")
    profiles = drift_profiles(totals)
    scored_rows = next(iter(profiles.values()))["rows"]

    rows = []
    for feature in features:
        name, kind = feature["name"], feature["kind"]
        now = profiles[name]
        row = {
            "column": name,
            "kind": kind,
            "psi": np.nan,
            "psi_chance_limit": np.nan,
            "new_category_share": np.nan,
            "missing_in_training": feature["missing_rate"],
            "missing_now": now["missing_rate"],
        }
        if kind == "numeric" and "min" in now and len(feature.get("bin_shares", [])) > 1:
            n_now = now["present"]
            n_train = max(meta["training_rows"] * (1 - feature["missing_rate"]), 1)
            expected = np.clip(feature["bin_shares"], 1e-4, None)
            # Half a row added to every bin keeps an empty bin from weighing ln(0).
            counts = np.asarray(now["bin_shares"]) * n_now
            actual = (counts + 0.5) / (n_now + 0.5 * len(counts))
            row["psi"] = float(np.sum((actual - expected) * np.log(actual / expected)))
            # Without drift, PSI ~ chi-square(bins - 1) * (1/n_now + 1/n_train). Its
            # 99.9th percentile (Wilson-Hilferty) is the most sampling alone gives.
            k = len(expected) - 1
            quantile = k * (1 - 2 / (9 * k) + 3.09 * np.sqrt(2 / (9 * k))) ** 3
            row["psi_chance_limit"] = float(quantile * (1 / n_now + 1 / n_train))
        elif kind == "categorical" and "new_category_share" in now:
            row["new_category_share"] = float(now["new_category_share"])
        rows.append(row)

    table = pd.DataFrame(rows)
    table["missing_change"] = table["missing_now"] - table["missing_in_training"]
    # A PSI counts only beyond what sampling alone gives: few rows make it noisy.
    beyond_chance = table["psi"] > table["psi_chance_limit"]
    over_psi = beyond_chance & (table["psi"] > (max_psi or 0.25))
    over_new = table["new_category_share"] > (max_new_category_share or 0.25)
    # So does a missing share: 2.33 standard deviations of a share over the rows scored.
    base = table["missing_in_training"].clip(0.01, 0.99)
    missing_noise = 2.33 * np.sqrt(base * (1 - base) / max(scored_rows, 1))
    over_missing = table["missing_change"].abs() > np.maximum(
        max_missing_change or 0.2, missing_noise
    )
    all_unseen = table["new_category_share"] == 1.0
    emptied = (table["missing_now"] == 1.0) & (table["missing_in_training"] < 1.0)
    drifted = over_psi | over_new | over_missing | all_unseen | emptied
    table["verdict"] = np.where(
        drifted,
        "drifted",
        np.where(beyond_chance & (table["psi"] > 0.1), "moderate shift", "stable"),
    )

    def largest(column):
        value = table[column].abs().max()
        return 0.0 if pd.isna(value) else round(float(value), 6)

    metrics.log_metric("rows", scored_rows)
    metrics.log_metric("max_psi", largest("psi"))
    metrics.log_metric("max_new_category_share", largest("new_category_share"))
    metrics.log_metric("max_missing_share_change", largest("missing_change"))
    metrics.log_metric("columns_drifted", int((table["verdict"] == "drifted").sum()))

    shown = table.assign(
        psi=table["psi"].round(4),
        psi_chance_limit=table["psi_chance_limit"].round(4),
        new_category_share=table["new_category_share"].map("{:.1%}".format),
        missing_in_training=table["missing_in_training"].map("{:.1%}".format),
        missing_now=table["missing_now"].map("{:.1%}".format),
        missing_change=table["missing_change"].map("{:+.1%}".format),
    ).replace({"nan%": ""})
    # Training against scoring, for each column not stable (when all are, the
    # four with the largest PSI, for reference): the share of present values in
    # each training decile bin, or of the most frequent training categories.
    charted = table[table["verdict"] != "stable"]
    stable = charted.empty
    if stable:
        charted = table.sort_values("psi", ascending=False, na_position="last").head(4)
    by_name = {feature["name"]: feature for feature in meta["features"]}
    panels = []
    for name, verdict in charted[["column", "verdict"]].values:
        feature, now = by_name[name], profiles[name]
        title = f"{name} ({verdict})"
        if "bin_shares" in now and len(feature.get("bin_shares", [])) > 1:
            edges = feature["bin_edges"]
            labels = [f"< {edges[0]:.3g}"] + [f"≥ {edge:.3g}" for edge in edges]
            series = {"training": feature["bin_shares"], "scoring": now["bin_shares"]}
            panels.append((title, labels, series))
        elif feature.get("categories"):
            known = list(feature["categories"])[:10]
            trained = sum(feature["categories"].values()) or 1
            scored = now["present"] or 1
            series = {
                "training": [feature["categories"][c] / trained for c in known],
                "scoring": [now.get("categories", {}).get(c, 0) / scored for c in known],
            }
            panels.append((title, known, series))
    which = (
        "Every column is stable; the four with the largest PSI, for reference"
        if stable
        else "Columns not stable"
    )
    charts = (
        bar_panels(
            panels,
            "Training against scoring",
            "share of rows",
            f"{which}: the share of values in each training decile bin, or in each of the most "
            "frequent training categories",
        )
        if panels
        else "<p>No column to chart.</p>"
    )
    page = html_page(
        f"Drift: {scored_rows} rows to score against {meta['training_rows']} training rows",
        f"""<p>PSI: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift, counted
only above psi_chance_limit, the PSI that sampling alone stays under 99.9% of the time
with this many rows.
A column is drifted when its PSI is above {max_psi or 0.25} (and chance), its unseen-category
share above {max_new_category_share or 0.25}, its missing share moved by more than
{max_missing_change or 0.2} (and chance), all its values are unseen, or it is empty now.
Thresholds that stop the run: max_psi={max_psi or "none"},
max_new_category_share={max_new_category_share or "none"},
max_missing_change={max_missing_change or "none"}.</p>
{charts}
{shown.to_html(index=False, na_rep="")}""",
    )
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)

    problems = []
    if max_psi:
        problems += [f"{c} PSI {p:.3f}" for c, p in table[over_psi][["column", "psi"]].values]
    if max_new_category_share:
        problems += [
            f"{c} {s:.1%} unseen categories"
            for c, s in table[over_new][["column", "new_category_share"]].values
        ]
    if max_missing_change:
        problems += [
            f"{c} missing share {m:+.1%}"
            for c, m in table[over_missing][["column", "missing_change"]].values
        ]
    shifted = table[table["verdict"] != "stable"]
    if len(shifted):
        listed = ", ".join(f"{c} ({v})" for c, v in shifted[["column", "verdict"]].values[:5])
        more = f" and {len(shifted) - 5} more" if len(shifted) > 5 else ""
        print(f"warning: drift in {len(shifted)} column(s): {listed}{more}; see the drift report")
    if problems:
        fail(
            f"{data.uri}: drift over the thresholds in {', '.join(problems)}. Check the data "
            "source, retrain on recent data, or raise the max_psi, max_new_category_share or "
            "max_missing_change threshold."
        )
    print(f"Drift checked on {scored_rows} rows; largest PSI {largest('psi'):.3f}.")
    exit_quickly()
