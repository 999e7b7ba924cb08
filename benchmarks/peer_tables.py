"""Writes the quality benchmark's public tables as CSV, from the packages that ship them.

Usage: <peer python> benchmarks/peer_tables.py FOLDER [NAME ...]

Run with the LightGBM peer's Python (``make peers-env`` installs scikit-learn,
statsmodels, ISLP and plotly there; ours has none of the last three). No downloads:
every table is a file inside an installed package. Writes ``FOLDER/<name>.csv``
per table and ``FOLDER/tables.json`` ({name: {"target", "source", "rows"}}).
Standard library only at the top: this file is never imported by our code.
"""

import json
import pathlib
import sys


def sklearn_table(loader, target_names=None):
    """A scikit-learn bundled table as a frame with a ``target`` column."""
    frame = loader(as_frame=True).frame
    if target_names is not None:
        frame["target"] = frame["target"].map(dict(enumerate(target_names)))
    return frame


def statsmodels_table(name):
    """A statsmodels bundled table."""
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def islp_table(name):
    """An ISLP bundled table."""
    from ISLP import load_data

    return load_data(name)


def plotly_table(name):
    """A table plotly ships (``package_data/datasets``), read without importing plotly."""
    import importlib.util

    import pandas as pd

    folder = pathlib.Path(importlib.util.find_spec("plotly").submodule_search_locations[0])
    return pd.read_csv(folder / "package_data" / "datasets" / f"{name}.csv.gz")


def build(name):
    """The table called ``name`` and its target column."""
    from sklearn import datasets

    if name == "breast_cancer":
        return sklearn_table(datasets.load_breast_cancer, ["malignant", "benign"]), "target"
    if name == "wine":
        return sklearn_table(datasets.load_wine, ["class_0", "class_1", "class_2"]), "target"
    if name == "digits":
        frame = sklearn_table(datasets.load_digits)
        frame["target"] = "digit_" + frame["target"].astype(str)
        return frame, "target"
    if name == "diabetes":
        return sklearn_table(datasets.load_diabetes), "target"
    if name == "fair":  # whether any time was spent in affairs
        frame = statsmodels_table("fair")
        frame["affairs"] = (frame["affairs"] > 0).map({True: "yes", False: "no"})
        return frame, "affairs"
    if name == "anes96":  # the 1996 vote (Clinton 0, Dole 1)
        frame = statsmodels_table("anes96").drop(columns="logpopul")
        frame["vote"] = frame["vote"].map({0.0: "clinton", 1.0: "dole"})
        return frame, "vote"
    if name == "oj":
        return islp_table("OJ"), "Purchase"
    if name == "default":
        return islp_table("Default"), "default"
    if name == "caravan":
        return islp_table("Caravan"), "Purchase"
    if name == "wage":  # logwage is the target in other units: dropped
        return islp_table("Wage").drop(columns="logwage"), "wage"
    if name == "carseats":
        return islp_table("Carseats"), "Sales"
    if name == "bikeshare":  # casual + registered = bikers: dropped
        return islp_table("Bikeshare").drop(columns=["casual", "registered"]), "bikers"
    if name == "hitters":
        return islp_table("Hitters").dropna(subset=["Salary"]), "Salary"
    if name == "auto":  # the car's name (make and model: free text) is the index there
        return islp_table("Auto").rename_axis("name").reset_index(), "mpg"
    if name == "gapminder":  # life expectancy by country (142 categories) and year
        repeats = ["iso_alpha", "iso_num", "centroid_lon", "centroid_lat"]  # the country again
        return plotly_table("gapminder").drop(columns=repeats), "lifeExp"
    raise SystemExit(f"unknown table {name!r}")


SOURCES = {
    "breast_cancer": "scikit-learn", "wine": "scikit-learn", "digits": "scikit-learn",
    "diabetes": "scikit-learn", "fair": "statsmodels", "anes96": "statsmodels",
    "oj": "ISLP", "default": "ISLP", "caravan": "ISLP", "wage": "ISLP", "carseats": "ISLP",
    "bikeshare": "ISLP", "hitters": "ISLP", "auto": "ISLP", "gapminder": "plotly",
}  # fmt: skip


def main() -> None:
    """Writes the named tables (all by default) and their index."""
    folder, names = pathlib.Path(sys.argv[1]), sys.argv[2:] or list(SOURCES)
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for name in names:
        frame, target = build(name)
        frame.to_csv(folder / f"{name}.csv", index=False)
        index[name] = {"target": target, "source": SOURCES[name], "rows": len(frame)}
    (folder / "tables.json").write_text(json.dumps(index, indent=2))


if __name__ == "__main__":
    main()
