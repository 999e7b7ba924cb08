"""Helpers that turn columns into model inputs: feature kinds, typing, the model, profiles.

Embedded into the components that call them, as ``shared.py``'s helpers are
(read its docstring: comments rather than docstrings).
"""

from components.families import check_candidate, input_style, make_estimator
from components.shared import bounded, close_column, fail


# The date format of a text column, or "" when it does not hold dates.
#
# Tried on up to 200 of its values, which must look like dates (digits split
# by - / or .): ISO 8601 (dates, times, offsets), then day-first, month-first
# forms, with or without a time. The format that parses the most
# values wins (day-first before month-first on a tie), if it parses 95%.
#
# Args:
#     values: A column of text.
def date_format(values) -> str:
    import warnings

    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return ""
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return ""
    sample = present.sample(200, random_state=0) if len(present) > 200 else present
    if sample.str.match(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}").mean() < 0.95:
        return ""
    days = [f"{d}{sep}{m}{sep}%Y" for sep in "/.-" for d, m in (("%d", "%m"), ("%m", "%d"))]
    candidates = ["ISO8601"] + [day + time for day in days for time in ("", " %H:%M", " %H:%M:%S")]
    best, best_share = "", 0.0
    for candidate in candidates:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, format=candidate, errors="coerce", utc=True)
        if parsed.notna().mean() > best_share:
            best, best_share = candidate, parsed.notna().mean()
    return best if best_share >= 0.95 else ""


# Whether a column of text holds free text (names, titles, descriptions)
# rather than categories or identifiers.
#
# The rule, on up to 500 of its values: more than 50 distinct values (one-hot
# encoding keeps 49: fewer are categories), and the median value holds at
# least two words, a word being a whitespace-separated token made of letters
# only (apostrophes, hyphens and periods inside allowed) once the punctuation
# around it is stripped, two letters or more. "Braund, Mr. Owen Harris" holds
# four; an ID or code ("C100231", "A/5 21171", "3f2a9c…", a UUID, an e-mail
# address) none, as digits or symbols sit in its tokens: it stays id-like.
#
# Args:
#     values: A column of text.
def free_text(values) -> bool:
    import re

    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna().astype(str)
    if present.nunique() <= 50:
        return False
    sample = present.sample(500, random_state=0) if len(present) > 500 else present
    word = re.compile(r"[^\W\d_](?:[^\W\d_]|['.-](?=[^\W\d_]))+")

    def words(text):
        stripped = (token.strip('"()[]{},;:!?.') for token in text.split())
        return sum(bool(word.fullmatch(token)) for token in stripped)

    return float(sample.map(words).median()) >= 2


# Decides which columns are features and of which kind, from their pandas types.
#
# Numeric types (not booleans) are "numeric"; text holding dates (see
# ``date_format``) is "datetime", with its ``format`` and the date ``parts`` the
# model will use (the hour too when the values have times); free text (see
# ``free_text``) is "text"; text, booleans and anything else are
# "categorical". The target and the excluded columns are left out.
#
# Returns:
#     ``[{"name": ..., "kind": ...}, ...]`` in column order.
def infer_features(frame, target_column: str, exclude_columns=()) -> list:
    import pandas as pd

    features = []
    for name, dtype in frame.dtypes.items():
        if name == target_column or name in exclude_columns:
            continue
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            features.append({"name": name, "kind": "numeric"})
            continue
        found = date_format(frame[name])
        if not found:
            kind = "text" if free_text(frame[name]) else "categorical"
            features.append({"name": name, "kind": kind})
            continue
        parts = ["year", "month", "day_of_week", "day_of_year"]
        parsed = pd.to_datetime(frame[name], format=found, errors="coerce", utc=True).dropna()
        if (parsed.dt.hour != 0).any() or (parsed.dt.minute != 0).any():
            parts.append("hour")
        features.append({"name": name, "kind": "datetime", "format": found, "parts": parts})
    return features


# Returns the model's feature columns, in training order, typed as in training.
#
# Numeric features become float64 (text in them is an error); categorical and
# datetime features become text (the model parses dates itself), with missing
# values kept as NaN for the imputer.
#
# Args:
#     frame: DataFrame holding at least the feature columns, in any order.
#     features: ``[{"name": ..., "kind": "numeric" | "categorical" | "datetime"}, ...]``.
#     source: How to name the data in messages.
#     first_row: The number of the frame's first data row in its file, for messages.
def select_features(frame, features: list, source: str, first_row: int = 1):
    import numpy as np
    import pandas as pd

    missing = [feature["name"] for feature in features if feature["name"] not in frame.columns]
    if missing:
        near = {name: close_column(name, frame.columns) for name in missing}
        near = {name: found for name, found in near.items() if found}
        fail(
            f"{source}: missing feature column(s) {bounded(missing)} that the model was trained "
            "on"
            + (f"; did you mean {bounded(near)} (names differ in case or spaces)" * bool(near))
            + ". Add them (empty values are allowed) or score with a model trained without them."
        )
    columns = {}
    for feature in features:
        name = feature["name"]
        values = frame[name]
        if feature["kind"] == "numeric":
            # A column already numeric is used as it is: pd.to_numeric would copy it.
            plain = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            numbers = values if plain else pd.to_numeric(values, errors="coerce")
            text = values.notna() & numbers.isna()
            if text.any():
                row = text.to_numpy().nonzero()[0][0]
                fail(
                    f"{source}: column {name!r} must be numeric but holds text, e.g. "
                    f"{values.iloc[row]!r} in data row {row + first_row}. Fix or empty those "
                    "values."
                )
            too_large = numbers.abs() > np.finfo(np.float32).max  # also catches inf
            if too_large.any():
                row = too_large.to_numpy().nonzero()[0][0]
                shown = float(numbers.iloc[row])
                fail(
                    f"{source}: column {name!r} holds {shown} in data row {row + first_row}, "
                    "beyond what the model can use (±3.4e38). Replace it or leave it empty."
                )
            columns[name] = numbers.astype("float64")
        else:
            if pd.api.types.is_float_dtype(values):
                # 3.0 read from a CSV names the same category as "3" in training.
                values = values.map(
                    lambda v: str(int(v)) if v.is_integer() else str(v), na_action="ignore"
                )
            columns[name] = values.map(str, na_action="ignore").astype(object)
    # Not copied again (copy-on-write keeps the frame's own columns safe): at 500,000
    # training rows, TRAIN_SAVING less peak memory in train_model.
    return pd.DataFrame(columns, index=frame.index, copy=False)


# The model's feature columns for training: as ``select_features`` types them, but
# categorical features as pandas categories of that text, one Python string a category
# rather than one a row (on issue 32's table, two category columns as text cost 130 bytes
# a row). scikit-learn's imputers and encoders read a category column as the same text
# (``np.asarray`` of it is an object array of its categories, NaN for gaps), so a model
# fits the same; prediction hands them text, as before.
#
# Args:
#     frame, features, source: as ``select_features``'s.
def training_inputs(frame, features: list, source: str):
    import numpy as np
    import pandas as pd

    coded = [feature for feature in features if feature["kind"] == "categorical"]
    typed = select_features(frame, [f for f in features if f not in coded], source)
    columns = {}
    for feature in coded:
        name = feature["name"]
        found, distinct = pd.factorize(frame[name])  # a gap: -1
        # select_features' text rule on the distinct values; two may give one text (1, "1").
        text = select_features(pd.DataFrame({name: distinct}), [feature], source)[name]
        inverse, labels = pd.factorize(text)
        codes = np.append(inverse, -1)[found]
        categories = pd.Index(labels, dtype=object)
        columns[name] = pd.Categorical.from_codes(codes, categories=categories)
    columns = {f["name"]: columns.get(f["name"], typed.get(f["name"])) for f in features}
    return pd.DataFrame(columns, index=frame.index, copy=False)


# A SimpleImputer(strategy="median", keep_empty_features=True) that fits its medians one
# column at a time, and is saved as a plain SimpleImputer (the saved model holds no class of
# ours; serving runs scikit-learn's own transform, unchanged).
#
# Why: SimpleImputer's own fit takes the medians of all columns at once with
# ``np.ma.median`` (``_dense_fit`` in sklearn/impute/_base.py), which sorts a masked copy of
# the whole matrix, with its mask and sort order: 4.4x the numbers at the peak. One column at
# a time holds one column's present values. The statistics are the same numbers (the middle
# value, or the mean of the two middle values), so the fitted imputers and models are too.
#
# Args:
#     add_indicator: Add a MissingIndicator of the columns with gaps (as SimpleImputer's).
def median_imputer(add_indicator: bool):
    import numpy as np
    from sklearn import impute

    # Named as scikit-learn's: make_pipeline names a step by its class ("simpleimputer").
    class SimpleImputer(impute.SimpleImputer):
        def _dense_fit(self, X, strategy, missing_values, fill_value):
            plain = strategy == "median" and X.dtype == np.float64
            if not plain or not (isinstance(missing_values, float) and np.isnan(missing_values)):
                return super()._dense_fit(X, strategy, missing_values, fill_value)
            medians = np.empty(X.shape[1])
            gaps = np.zeros((1, X.shape[1]), dtype=bool)  # which columns have any
            for column in range(X.shape[1]):
                values = X[:, column]
                present = values[~np.isnan(values)]
                gaps[0, column] = len(present) < len(values)
                empty = 0.0 if self.keep_empty_features else np.nan
                medians[column] = np.median(present) if len(present) else empty
            # The indicator keeps only which columns have gaps: one row of them is its mask.
            self.indicator_ = None
            if self.add_indicator:
                self.indicator_ = impute.MissingIndicator(
                    missing_values=missing_values, error_on_new=False
                )
                self.indicator_._fit(gaps, precomputed=True)
            return medians

        # Pickled (joblib.dump) as the plain SimpleImputer it equals, fitted or not (a
        # ColumnTransformer keeps its unfitted transformers too), byte for byte. pickle
        # checks that the class it writes is the object's own, so the object becomes one:
        # from then on it fits as SimpleImputer does, to the same statistics.
        def __reduce_ex__(self, protocol):
            self.__class__ = impute.SimpleImputer
            return self.__reduce_ex__(protocol)

    return SimpleImputer(strategy="median", keep_empty_features=True, add_indicator=add_indicator)


# Builds the unfitted model: preprocessing, then the candidate's estimator.
#
# The preprocessing suits the family (``input_style``). Numeric features:
# missing values become the training median (standardised for "scaled", then
# for ``linear`` a cubic B-spline basis of ``spline_knots`` evenly spaced knots
# per number, continued as straight lines beyond the training range; for
# "native", a column flagging the gaps is added, as gradient boosting cannot
# bin a column that is all gaps in some fold). Datetime features: parsed with
# their format, then their parts (year, month, day of week, day of year, hour
# where present) and the days elapsed since 1970-01-01, unparseable values as
# gaps, treated as numbers. The steps are pandas and standard-library
# functions (methodcaller, attrgetter), so the saved model loads wherever
# pandas does, MLServer included, with none of our code. Other features:
# missing values become "missing", then one-hot encoding (the 49 most frequent
# categories of a column get their own column, rarer and unseen ones share
# one), or for a column of over 50 categories (its profiled ``unique``),
# scikit-learn's ``TargetEncoder``: each category's shrunk target mean (per
# class for several classes), cross-fitted on the training rows so a row's own
# target never leaks into its code; for "native", category codes the model
# splits on as categories (the 254 most frequent, rarer ones sharing one; gaps
# and unseen categories are gaps), target means too past 50 categories.
# Text features (``free_text``): gaps become "", then TF-IDF weights of the
# 100 most frequent words and of the 100 most frequent character 2- to 4-grams
# within words (bounded, whatever the rows), so "Mr", "Miss" or "Master"
# inside a name can decide; all in scikit-learn, so the saved model still
# loads with none of our code.
#
# Args:
#     features: ``[{"name": ..., "kind": ...}, ...]`` from ``infer_features``.
#     hyperparameters: A candidate, checked by ``check_candidate`` (a random
#         forest unless it names another "model").
#     random_state: Seed for the estimator.
#     task: "classification" or "regression".
#     out_of_bag: Keep out-of-bag predictions (random forests, for a sweep).
#     rows: Rows it will be fitted on (``make_estimator`` sizes some models by it).
#
# Returns:
#     ``(pipeline, settings)``: the scikit-learn Pipeline and the full,
#     normalised hyperparameters it uses.
def build_model(
    features: list,
    hyperparameters: dict,
    random_state: int,
    task: str = "classification",
    out_of_bag: bool = False,
    *,
    rows: int,
):
    from operator import attrgetter, methodcaller

    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        SplineTransformer,
        StandardScaler,
        TargetEncoder,
    )

    settings = check_candidate(hyperparameters, task)
    style = input_style(settings)

    def numbers():
        native = style == "native"
        imputer = median_imputer(add_indicator=native)
        if style != "scaled":
            return [imputer]
        knots = settings.get("spline_knots", 0)
        curves = [SplineTransformer(n_knots=knots, extrapolation="linear")] if knots else []
        return [imputer, StandardScaler(), *curves]

    def date_parts(feature):
        def step(function):
            return FunctionTransformer(function)

        parse = methodcaller(
            "apply", pd.to_datetime, format=feature["format"], errors="coerce", utc=True
        )
        parts = [
            (part, step(methodcaller("apply", attrgetter(f"dt.{part}"))))
            for part in feature["parts"]
        ]
        elapsed = make_pipeline(
            step(methodcaller("__sub__", pd.Timestamp("1970-01-01", tz="UTC"))),
            step(methodcaller("apply", attrgetter("dt.days"))),
        )
        union = FeatureUnion([*parts, ("elapsed_days", elapsed)])
        return make_pipeline(step(parse), union, *numbers())

    def text_terms():
        return make_pipeline(
            FunctionTransformer(methodcaller("fillna", "")),
            FeatureUnion(
                [
                    ("words", TfidfVectorizer(max_features=100)),
                    (
                        "chars",
                        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), max_features=100),
                    ),
                ]
            ),
        )

    dates = [f for f in features if f["kind"] == "datetime"]
    texts = [f["name"] for f in features if f["kind"] == "text"]
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    categorical = [f["name"] for f in features if f["kind"] == "categorical"]
    # Over 50 categories (profiled by train_model; one-hot keeps 49, and native
    # splits need 20 rows a side): their cross-fitted target means instead.
    many = [f["name"] for f in features if f["name"] in categorical and f.get("unique", 0) > 50]
    categorical = [name for name in categorical if name not in many]
    if style == "native":
        categories = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-1,
            max_categories=255,
        )
    else:
        categories = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
            OneHotEncoder(
                handle_unknown="infrequent_if_exist", max_categories=50, sparse_output=False
            ),
        )
    parts = [
        *[(f"datetime_{i}", date_parts(f), [f["name"]]) for i, f in enumerate(dates)],
        ("numeric", make_pipeline(*numbers()), numeric),
        *[(f"text_{i}", text_terms(), name) for i, name in enumerate(texts)],
    ]
    # Category codes first for "native", so the model knows their positions; last
    # otherwise, the order forests were trained on before the families (which
    # reproduces their models seed for seed).
    coded = ("categorical", categories, categorical)
    folds = KFold if task == "regression" else StratifiedKFold
    means = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
        TargetEncoder(cv=folds(n_splits=5, shuffle=True, random_state=random_state)),
    )
    encoded = [("target_encoded", means, many)] if many else []
    # Dense: gradient boosting takes no sparse input, and text terms are bounded.
    preprocess = ColumnTransformer(
        [coded, *parts, *encoded] if style == "native" else [*parts, coded, *encoded],
        sparse_threshold=0,
    )
    codes = range(len(categorical)) if style == "native" else ()
    estimator = make_estimator(settings, task, random_state, codes, out_of_bag, rows=rows)
    step = "regressor" if task == "regression" else "classifier"
    return Pipeline([("preprocess", preprocess), (step, estimator)]), settings


# Describes one column, for the model's schema, the validation report and drift.
#
# Args:
#     values: The column, typed as ``select_features`` types it.
#     kind: "numeric", "categorical", "datetime" or "text".
#     bin_edges: Inner edges of the numeric bins; default: the column's deciles.
#     date_format: The format of a datetime column.
#
# Returns:
#     A JSON-ready dict: kind, dtype, missing_rate, unique; for numeric columns
#     min, max, mean, bin_edges and bin_shares (the share of values in each bin);
#     for categorical ones the categories seen with their counts (the 1000 most
#     frequent) and other_count (how many values fell outside those); for
#     datetime ones the first and last dates and unparseable (values present
#     that do not parse, counted as missing in missing_rate); for text ones
#     rows and the length of their values in characters (min, mean, max),
#     never the values: a text column holds names and free text, personal
#     data that must not travel with the model to storage and serving pods.
def profile_column(values, kind: str, bin_edges=None, date_format=""):
    import numpy as np
    import pandas as pd

    present = values.dropna()
    profile = {
        "kind": kind,
        "dtype": str(values.dtype),
        "missing_rate": round(1 - len(present) / len(values), 6) if len(values) else 0.0,
        "unique": int(present.nunique()),
    }
    if kind == "numeric":
        numbers = present.to_numpy(dtype=float)
        if bin_edges is None:
            deciles = np.quantile(numbers, np.linspace(0, 1, 11)[1:-1]) if len(numbers) else []
            bin_edges = np.unique(deciles).tolist()
        counts = np.bincount(
            np.searchsorted(bin_edges, numbers, side="right"), minlength=len(bin_edges) + 1
        )
        profile["bin_edges"] = [float(edge) for edge in bin_edges]
        profile["bin_shares"] = (counts / max(len(numbers), 1)).round(6).tolist()
        if len(numbers):
            profile.update(
                min=float(numbers.min()), max=float(numbers.max()), mean=float(numbers.mean())
            )
    elif kind == "datetime":
        parsed = pd.to_datetime(present, format=date_format, errors="coerce", utc=True).dropna()
        profile["unparseable"] = len(present) - len(parsed)
        profile["missing_rate"] = round(1 - len(parsed) / len(values), 6) if len(values) else 0.0
        if len(parsed):
            profile.update(min=parsed.min().isoformat(), max=parsed.max().isoformat())
    elif kind == "text":
        lengths = present.map(str).str.len()
        profile["rows"] = len(values)
        if len(lengths):
            profile["length"] = {
                "min": int(lengths.min()),
                "mean": round(float(lengths.mean()), 2),
                "max": int(lengths.max()),
            }
    else:
        counts = present.map(str).value_counts()
        profile["categories"] = {str(label): int(n) for label, n in counts.head(1000).items()}
        profile["other_count"] = int(counts.iloc[1000:].sum())
    return profile
