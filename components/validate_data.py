"""Component: profile the training table and warn about what would mislead a model."""

from typing import NamedTuple

from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components.features import infer_features, select_features
from components.memory import chunk_rows_within
from components.reports import bar_panels, html_page, value_panel
from components.runtime import TABLE_PINS, tabular_component
from components.shared import bounded, chunk_rows, exit_quickly, fail
from components.tables import (
    distinct_count,
    merge_distinct,
    parquet_row_bytes,
    read_column,
    sample_rows,
)
from components.tasks import decide_task


@tabular_component(packages=TABLE_PINS)
def validate_data(
    data: Input[Dataset],
    report: Output[HTML],
    metrics: Output[Metrics],
    target_column: str,
    keep_id_columns: bool = False,
    fail_on: list = [],
    min_class_ratio: float = 0.2,
    task: str = "auto",
    time_column: str = "",
    declared_memory_limit: str = "",
) -> NamedTuple("Outputs", excluded_columns=list, warnings=list):
    """Profiles every column and the classes, and flags what would mislead a model.

    Warnings, by kind:

    * ``constant``: a column with a single value teaches nothing.
    * ``id_like``: a column with a different value on every row: text (not
      free text such as names or descriptions, which become words), or whole
      numbers named like an ID, forming a sequence, or increasing in file order
      (a row index written by R or pandas, gaps allowed once rows were dropped);
      also a column named like a row index (``Unnamed: 0``, ``rownames``,
      ``index``). The forest would memorise it, so it is excluded from the
      features unless ``keep_id_columns``.
    * ``leak``: a column that alone predicts the target (99% of rows or more,
      where guessing the majority class would not; for regression, 99% of its
      variance), such as a copy or a recoding of the target: it will not exist
      when predicting.
    * ``imbalance``: classes holding less than ``min_class_ratio`` of an even
      share of the rows (1/k for k classes), in one line for all of them.
    * ``numeric_as_text``: a text column whose values are numbers for 90% of
      rows or more: the rest (e.g. ``?`` or ``n/a``) make it categorical.
    * ``time_trend``: no ``time_column`` is set, and the target's class share
      (or mean) moves across the fifths of a date column's rows (from 100
      rows): a random split would test on a past the model has seen.

    The table is read in chunks (200,000 rows, or the environment variable
    ``KFP_TABULAR_CHUNK_ROWS``), so memory does not grow with it beyond the
    target column: rows, gaps, distinct values (exact up to 65,536 a column,
    estimated within about 0.4% beyond), ranges, histograms, category counts,
    numbers stored as text and order are merged across chunks; the feature
    kinds, the ``leak`` and ``time_trend`` checks use a uniform sample of
    100,000 rows (fewer for rows over 2.5 KiB), which up to that size is the
    whole table.

    Args:
        data: Parquet table from ``load_data``, target included.
        target_column: Column holding what to predict (a class or a number).
        keep_id_columns: Keep ID-like columns as features.
        fail_on: Warning kinds that stop the run, e.g. ``["leak", "id_like"]``.
        min_class_ratio: Fraction of an even share (1/k of the rows) under which
            a class counts as rare: 0.2 means under 10% with two classes.
        task: ``auto`` (decided from the target, as ``load_data`` does),
            ``classification`` or ``regression``. For regression, the report
            profiles the target (range, deciles, skew, outliers) and there is no
            class check.
        time_column: The pipeline's ``time_column`` ("" for none): when set,
            no ``time_trend`` warning.
        declared_memory_limit: The step's memory limit (the pipeline's
            ``light_memory_limit``); a lower cgroup limit wins. Chunks shrink to
            fit it; where not even 1,000 rows fit, the step stops and says so.

    Returns:
        report: HTML page: the rows and columns dropped on loading and why, the
            warnings, the class balance, and per column its
            kind, type, missing share, number of distinct values and range or
            most frequent categories. The Kubeflow UI renders it.
        metrics: ``rows``, ``columns``, ``missing_cells_share``,
            ``minority_class_share`` (regression: ``target_skew``,
            ``target_outlier_share``), ``warnings`` and one ``warnings_<kind>``
            count per kind, ``excluded_columns``, ``text_columns`` (those read
            as free text: names, titles, descriptions; their words and
            character n-grams become features, see ``train_model``).
        excluded_columns: Columns ``train_model`` must not use (the ID-like ones,
            unless kept).
        warnings: One line per warning, as in the report (the first 50).
    """
    import html
    import re
    from collections import namedtuple

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    kinds = ("constant", "id_like", "leak", "imbalance", "numeric_as_text", "time_trend")
    unknown = [kind for kind in fail_on if kind not in kinds]
    if unknown:
        fail(f"fail_on has unknown warning kinds {unknown}; choose among {list(kinds)}.")
    import pyarrow.parquet as pq

    names = pq.ParquetFile(data.path).schema_arrow.names
    if target_column not in names:
        fail(f"{data.uri}: target column {target_column!r} not found; columns are {names}.")
    # A chunk costs about 10 times its pandas size here (Arrow, pandas, the typed copies
    # the profile makes); the target is kept whole (at most 8 bytes a row).
    per_chunk = chunk_rows_within(
        "validate_data", "light_memory_limit", declared_memory_limit,
        10 * parquet_row_bytes(data.path), chunk_rows(),
        held=8 * pq.ParquetFile(data.path).metadata.num_rows,
    )  # fmt: skip
    # Pass 1: the target whole (a few bytes a row), a bounded sample of the rows for the
    # checks that need rows whole (feature kinds, leaks, trends), the numbers' ranges.
    ranges = {}

    def numbers_range(first_row, chunk):
        for index, name in enumerate(chunk.column_names):
            if name != target_column and pa.types.is_integer(chunk.schema.field(index).type) | (
                pa.types.is_floating(chunk.schema.field(index).type)
            ):
                low, high = pc.min_max(chunk.column(index)).values()
                if low.is_valid:
                    old = ranges.get(name, (low.as_py(), high.as_py()))
                    ranges[name] = (min(old[0], low.as_py()), max(old[1], high.as_py()))

    sample_table, sampled, rows = sample_rows(data.path, numbers_range, size=per_chunk)
    sample = sample_table.to_pandas()
    del sample_table
    target = read_column(data.path, target_column, per_chunk)  # integers in their least type
    task, reason = decide_task(target, task, f"{data.uri}: target column {target_column!r}")
    regression = task == "regression"
    if regression:
        target_values = target.to_numpy(dtype=float)
        spread = float(target_values.var())
        sample_target = target_values[sampled]
    else:
        class_counts = target.value_counts()
        class_shares = class_counts / class_counts.sum()
        majority = float(class_shares.iloc[0])
        # In order of appearance, as pd.factorize numbers them; in the column's own type.
        class_labels = pd.unique(target)
        if pd.api.types.is_integer_dtype(target):
            read_as = pq.ParquetFile(data.path).schema_arrow.field(target_column).type
            class_labels = class_labels.astype(read_as.to_pandas_dtype())
        n_classes = len(class_labels)
        sample_codes = pd.Index(class_labels).get_indexer(target.iloc[sampled])
        if rows > len(sample):
            target = None  # only its counts are needed from here

    features = infer_features(sample, target_column)
    kinds_of = {feature["name"]: feature for feature in features}

    # Pass 2: per feature, typed as training will (select_features) a chunk at a time,
    # statistics that merge exactly: gaps, distinct values (exact up to 65,536), ranges,
    # category counts, order, histograms.
    stats = {
        feature["name"]: {
            "present": 0, "sketch": None, "counts": {}, "whole": True, "increasing": True,
            "last": None, "numbers": 0, "not_numbers": [], "dates": 0, "first": None,
            "latest": None, "bins": None, "dtype": None, "shortest": None, "longest": 0,
            "characters": 0,
        }
        for feature in features
    }  # fmt: skip
    missing_cells = 0
    reader = pq.ParquetFile(data.path, pre_buffer=False)  # see tables.py's split_rows
    for batch in reader.iter_batches(batch_size=per_chunk):
        chunk = batch.to_pandas()
        typed = select_features(chunk, features, data.uri)
        missing_cells += int(chunk.drop(columns=[target_column]).isna().to_numpy().sum())
        for name, values in typed.items():
            feature, stat = kinds_of[name], stats[name]
            stat["dtype"] = stat["dtype"] or str(values.dtype)
            present = values.dropna()
            stat["present"] += len(present)
            if present.empty:
                continue
            if feature["kind"] == "numeric":
                stat["sketch"] = merge_distinct(stat["sketch"], present)
                numbers = present.to_numpy(dtype=float)
                stat["whole"] = stat["whole"] and bool((numbers % 1 == 0).all())
                stat["increasing"] = stat["increasing"] and bool(
                    present.is_monotonic_increasing
                    and (stat["last"] is None or numbers[0] >= stat["last"])
                )
                stat["last"] = numbers[-1]
                low, high = ranges[name]
                try:
                    counts, edges = np.histogram(numbers, bins=20, range=(low, high))
                except ValueError:  # a range too narrow for bins (see value_panel)
                    counts, edges = np.array([len(numbers)]), np.array([low, high])
                stat["bins"] = counts if stat["bins"] is None else stat["bins"] + counts
                stat["edges"] = edges
                continue
            # Text: each distinct value once, with its count (a 300-value column's 200,000 rows
            # are 300 values to hash, parse and count).
            codes, uniques = pd.factorize(present.astype(str))
            counts = np.bincount(codes)
            stat["sketch"] = merge_distinct(stat["sketch"], uniques)
            for label, count in zip(uniques, counts, strict=True):
                stat["counts"][label] = stat["counts"].get(label, 0) + int(count)
            if len(stat["counts"]) > 400_000:  # a bound: the 200,000 most frequent so far
                top = sorted(stat["counts"].items(), key=lambda item: -item[1])[:200_000]
                stat["counts"] = dict(top)
            uniques = pd.Series(uniques, dtype=object)
            if feature["kind"] == "text":  # lengths, never values, in its profile
                lengths = uniques.str.len().to_numpy()
                stat["characters"] += int((lengths * counts).sum())
                shortest, longest = int(lengths.min()), int(lengths.max())
                stat["shortest"] = min(stat["shortest"] or shortest, shortest)
                stat["longest"] = max(stat["longest"], longest)
            if feature["kind"] == "datetime":
                parsed = pd.to_datetime(
                    uniques, format=feature["format"], errors="coerce", utc=True
                )
                stat["dates"] += int(counts[parsed.notna().to_numpy()].sum())
                parsed = parsed.dropna()
                if len(parsed):
                    first, latest = parsed.min(), parsed.max()
                    stat["first"] = min(stat["first"] or first, first)
                    stat["latest"] = max(stat["latest"] or latest, latest)
            else:
                as_numbers = pd.to_numeric(uniques, errors="coerce").notna().to_numpy()
                stat["numbers"] += int(counts[as_numbers].sum())
                others = set(uniques[~as_numbers])
                stat["not_numbers"] = sorted(set(stat["not_numbers"]) | others)[:3]
        del chunk, typed

    found = []  # (kind, column, message)
    profiles, panels = {}, []
    sample_typed = select_features(sample, features, data.uri)
    sample_rows_count = len(sample)
    for feature in features:
        name, stat = feature["name"], stats[feature["name"]]
        numeric = feature["kind"] == "numeric"
        unique, exact = distinct_count(stat["sketch"])
        present_count = stat["present"]
        profile = {
            "kind": feature["kind"],
            "dtype": stat["dtype"],
            "missing_rate": round(1 - present_count / rows, 6) if rows else 0.0,
            "unique": unique,
        }
        counts = sorted(stat["counts"].items(), key=lambda item: -item[1])
        if numeric and present_count:
            low, high = ranges[name]
            profile.update(min=float(low), max=float(high))
            edges = stat["edges"]
            panels.append((name, [f"{edge:.3g}" for edge in edges[:-1]], {"rows": stat["bins"]}))
        else:
            top = counts[:10]
            shown = {"rows": np.array([n for _, n in top])}
            panels.append((name, [label for label, _ in top], shown))
        if feature["kind"] == "datetime":
            profile["unparseable"] = present_count - stat["dates"]
            profile["missing_rate"] = round(1 - stat["dates"] / rows, 6) if rows else 0.0
            if stat["dates"]:
                profile.update(min=stat["first"].isoformat(), max=stat["latest"].isoformat())
        elif feature["kind"] == "text":
            profile["rows"] = rows
            if present_count:
                profile["length"] = {
                    "min": stat["shortest"],
                    "mean": round(stat["characters"] / present_count, 2),
                    "max": stat["longest"],
                }
        elif not numeric:
            profile["categories"] = {str(label): count for label, count in counts[:1000]}
        profiles[name] = profile
        # Every value different: counted while exact, else within the sketch's error.
        all_distinct = unique == present_count if exact else unique >= 0.99 * present_count
        values = sample_typed[name]  # the sample, for the checks that need rows whole
        if unique <= 1:
            found.append(("constant", name, f"column {name!r} has a single value"))
            continue
        if feature["kind"] in ("datetime", "text"):  # parts or words: all values may differ
            if feature["kind"] == "datetime" and not time_column and sample_rows_count >= 100:
                # the target's fifths by date, compared (in the sample)
                dates = pd.to_datetime(values, format=feature["format"], errors="coerce", utc=True)
                parts = np.array_split(np.argsort(dates.to_numpy(), kind="stable"), 5)
                if regression:
                    means = [sample_target[p].mean() / (spread**0.5 or 1) for p in parts]
                else:
                    means = [(sample_codes[p] == 0).mean() for p in parts]
                moved = max(means) - min(means)
                noise = 4 * (5 / sample_rows_count) ** 0.5 * (1 if regression else 0.5)
                if moved > max(0.1, noise):
                    what = "mean (in spreads)" if regression else f"share of {class_labels[0]!r}"
                    found.append(
                        (
                            "time_trend",
                            name,
                            f"the target's {what} moves by {moved:.2f} across fifths of "
                            f"{name!r}'s dates: a random split tests on a past it has seen; "
                            f"set time_column={name!r}",
                        )
                    )
            continue
        whole = numeric and stat["whole"]
        sequence = whole and profile["max"] - profile["min"] + 1 <= 1.1 * present_count
        named_id = bool(re.search(r"(^|[_\W])(id|uuid|guid|key)$", str(name), re.IGNORECASE))
        index_name = bool(
            re.fullmatch(r"unnamed: ?\d+|rownames|index|row_?(id|number|num)?", str(name), re.I)
        )
        increasing = whole and stat["increasing"]
        if index_name and all_distinct:
            found.append(("id_like", name, f"column {name!r} is named like a row index"))
            continue
        if (
            all_distinct
            and present_count == rows
            and rows >= 10
            and (not numeric or (whole and (sequence or named_id or increasing)))
        ):
            found.append(("id_like", name, f"column {name!r} has a different value on every row"))
            continue
        if not numeric and stat["numbers"] >= 0.9 * present_count and stat["not_numbers"]:
            found.append(
                (
                    "numeric_as_text",
                    name,
                    f"column {name!r} is numbers except for {stat['not_numbers']}, so it is "
                    "treated as categorical; clean those values to use it as numeric",
                )
            )
        # Leak test, in the sample: how well the column's values (or 5+-row bins of them)
        # alone predict the target. Needs at least 5 rows per value on average to mean anything.
        has_value = values.notna().to_numpy()
        bins = max(2, min(50, int(has_value.sum()) // 5))
        if numeric and (unique if rows == sample_rows_count else values.nunique()) > bins:
            numbers = values.to_numpy(dtype=float)[has_value]
            edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1]))
            groups = np.searchsorted(edges, numbers, side="right")
        else:
            groups = pd.factorize(values[has_value])[0]
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        if not 0 < n_groups * 5 <= len(groups):
            continue
        if regression:
            # The share of the target's variance the column's groups explain.
            present_target = sample_target[has_value]
            sizes = np.bincount(groups, minlength=n_groups)
            sums = np.bincount(groups, weights=present_target, minlength=n_groups)
            means = sums / np.maximum(sizes, 1)
            within = float(np.mean((present_target - means[groups]) ** 2))
            explained = 1 - within / spread if spread > 0 else 0.0
        elif majority < 0.99:
            counts = np.bincount(
                groups * n_classes + sample_codes[has_value], minlength=n_groups * n_classes
            ).reshape(n_groups, n_classes)
            explained = counts.max(axis=1).sum() / len(groups)
        else:
            continue
        if explained >= 0.99:
            how = "explains" if regression else "predicts"
            share = "of its variance" if regression else "of rows"
            found.append(
                (
                    "leak",
                    name,
                    f"column {name!r} alone {how} {target_column!r} for {explained:.1%} {share}: "
                    "is it derived from the target?",
                )
            )
    del sample, sample_typed
    if not regression:
        even = 1 / n_classes
        rare = class_shares[class_shares < min_class_ratio * even]
        if len(rare):
            listed = ", ".join(f"{str(label)!r} ({share:.1%})" for label, share in rare[:5].items())
            more = f" and {len(rare) - 5} more" if len(rare) > 5 else ""
            found.append(
                (
                    "imbalance",
                    target_column,
                    f"{len(rare)} of {n_classes} classes hold under {min_class_ratio:g} of an "
                    f"even share ({min_class_ratio * even:.1%} of rows): {listed}{more}; "
                    "consider class_weight=balanced",
                )
            )

    excluded = [] if keep_id_columns else [name for kind, name, _ in found if kind == "id_like"]
    messages = [f"{kind}: {message}" for kind, _, message in found]
    for message in messages:
        print(f"warning: {message}")

    cells = rows * (len(names) - 1)
    missing_cells = missing_cells / cells if cells else 0.0
    metrics.log_metric("rows", rows)
    metrics.log_metric("columns", len(names))
    metrics.log_metric("missing_cells_share", round(missing_cells, 6))
    if regression:
        quartiles = np.quantile(target_values, [0.25, 0.75])
        reach = 1.5 * (quartiles[1] - quartiles[0])
        beyond = (target_values < quartiles[0] - reach) | (target_values > quartiles[1] + reach)
        outliers = float(beyond.mean())
        skew = float(pd.Series(target_values).skew()) if len(target_values) > 2 else 0.0
        metrics.log_metric("target_skew", round(skew, 6))
        metrics.log_metric("target_outlier_share", round(outliers, 6))
    else:
        metrics.log_metric("minority_class_share", round(float(class_shares.iloc[-1]), 6))
    metrics.log_metric("warnings", len(found))
    for kind in kinds:
        metrics.log_metric(f"warnings_{kind}", sum(k == kind for k, _, _ in found))
    metrics.log_metric("excluded_columns", len(excluded))
    texts = [f["name"] for f in features if f["kind"] == "text"]
    metrics.log_metric("text_columns", len(texts))
    if texts:
        print(f"Read as free text: {texts}")

    def describe(profile):
        if profile["kind"] == "numeric":
            return f"{profile['min']:.4g} to {profile['max']:.4g}" if "min" in profile else ""
        if profile["kind"] == "datetime":
            span = f"{profile['min'][:19]} to {profile['max'][:19]}" if "min" in profile else ""
            return span + (f"; {profile['unparseable']} unparseable" * bool(profile["unparseable"]))
        if profile["kind"] == "text":  # its values are never shown (names, free text)
            length = profile.get("length")
            return f"{length['min']} to {length['max']} characters" if length else ""
        top = list(profile["categories"].items())[:5]
        return ", ".join(f"{label} ({count})" for label, count in top)

    table = pd.DataFrame(
        [
            {
                "column": name,
                "kind": profile["kind"],
                "type": profile["dtype"],
                "missing": f"{profile['missing_rate']:.1%}",
                "distinct": profile["unique"],
                "range or top categories": describe(profile),
                "excluded": "yes" if name in excluded else "",
            }
            for name, profile in profiles.items()
        ]
    )
    if regression:
        deciles = np.quantile(target_values, np.linspace(0, 1, 11))
        low, high, mean = target_values.min(), target_values.max(), target_values.mean()
        target_section = (
            "<h2>Target</h2>"
            f"<p>From {low:.6g} to {high:.6g}, mean {mean:.6g}, "
            f"skew {skew:.2f}; {outliers:.1%} of rows beyond 1.5 interquartile ranges of the "
            "quartiles.</p>"
            + pd.DataFrame({"value": deciles}, index=[f"{10 * i}%" for i in range(11)])
            .round(6)
            .to_html()
        )
    else:
        balance = pd.DataFrame(
            {"rows": class_counts, "share": class_shares.map("{:.1%}".format)}
        ).rename_axis(None)  # no extra header row with the target's name
        target_section = f"<h2>Class balance</h2>{balance.to_html()}"
    items = "".join(f"<li>{html.escape(message)}</li>" for message in messages)
    # What load_data dropped, from its artifact metadata.
    dropped_rows = int(data.metadata.get("rows_dropped", 0))
    reasons = ", ".join(f"{why}: {n}" for why, n in data.metadata.get("drop_reasons", {}).items())
    dropped_columns = list(data.metadata.get("dropped_columns", {}))
    dropped = (
        f"<p><b>Dropped on loading:</b> {dropped_rows} of "
        f"{int(data.metadata.get('rows_read', rows + dropped_rows))} rows"
        + (f" ({html.escape(reasons)})" if reasons else "")
        + (f"; columns {html.escape(str(dropped_columns))} (no values)" if dropped_columns else "")
        + ".</p>"
    )
    if regression:
        target_panel = value_panel(target_column, target, True)
    else:
        target_panel = (
            target_column,
            [str(c) for c in class_shares.index],
            {"rows": class_counts.to_numpy()},
        )  # noqa: E501
    charts = bar_panels(
        [target_panel],
        "Target: " + ("distribution" if regression else "class balance"),
        "rows",
        "The target column",
    ) + bar_panels(
        panels,
        "Feature columns: distribution of the values present",
        "rows",
        "Each feature column: a histogram of numbers, or its 10 most frequent values",
    )
    page = html_page(
        f"Data validation: {rows} rows, {len(names) - 1} feature columns",
        f"""{dropped}
<p>Target column: <b>{html.escape(str(target_column))}</b>; task: {task}
({html.escape(reason)}). Missing feature cells:
{missing_cells:.1%}. Excluded from the features:
{html.escape(str(excluded) if excluded else "none")}. Read as free text (words and
character n-grams, not categories nor IDs): {html.escape(str(texts) if texts else "none")}.</p>
<h2>Warnings ({len(messages)})</h2>{f"<ul>{items}</ul>" if items else "<p>None.</p>"}
<h2>Charts</h2>{charts}
{target_section}
<h2>Columns</h2>{table.to_html(index=False)}""",
    )
    with open(report.path, "w", encoding="utf-8") as handle:
        handle.write(page)

    blocking = [
        message for (kind, _, _), message in zip(found, messages, strict=True) if kind in fail_on
    ]
    if blocking:
        fail(
            f"{data.uri}: {len(blocking)} validation warning(s) in fail_on: "
            f"{'; '.join(bounded(blocking, 5))}. "
            "Fix the data, or remove those kinds from fail_on."
        )
    outputs = namedtuple("Outputs", ["excluded_columns", "warnings"])
    # An output parameter travels like metadata (see ``bounded``): the report has them all.
    exit_quickly()
    return outputs(excluded, bounded(messages, 50))
