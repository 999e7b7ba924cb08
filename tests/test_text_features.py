"""Free-text columns (names, titles, descriptions) become words, not categories or IDs."""

import html
import json
import pathlib
import subprocess

import numpy as np
import pandas as pd
import pytest

from components.features import free_text, infer_features
from pipelines import training_pipeline

ROOT = pathlib.Path(__file__).resolve().parent.parent


def passengers(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Every name differs; the title inside it (Mrs, Miss, Master: saved) decides the target."""
    rng = np.random.default_rng(seed)
    syllables = ["bra", "und", "cum", "ings", "hei", "kki", "nen", "fut", "rel", "le", "al", "len"]

    def word():  # names rarely repeat, as in a passenger list; the titles do
        return "".join(rng.choice(syllables, rng.integers(2, 4))).capitalize()

    titles = rng.choice(["Mr", "Mrs", "Miss", "Master"], rows)
    names = [f"{word()}, {title}. {word()} {word()}" for title in titles]
    saved = np.isin(titles, ["Mrs", "Miss", "Master"]) ^ (rng.random(rows) < 0.05)
    return pd.DataFrame(
        {
            "ticket": [f"A/5 {21171 + i}" for i in range(rows)],  # an ID: stays id-like
            "name": names,
            "fare": rng.gamma(2.0, 10.0, rows).round(2),
            "survived": np.where(saved, "yes", "no"),
        }
    )


@pytest.mark.parametrize(
    ("values", "text"),
    [
        (["Braund, Mr. Owen Harris", "Allen, Miss. Elisabeth Walton"] * 30, False),  # 2 distinct
        ([f"Braund, Mr. Owen {chr(65 + i % 26)}{i}" for i in range(80)], True),
        ([f"A Tale of Two Cities, volume {i}" for i in range(80)], True),
        ([f"C{100000 + i}" for i in range(80)], False),
        ([f"3f2a9c{i:04x}e1b7" for i in range(80)], False),
        ([f"user.{i}@example.com" for i in range(80)], False),
        ([f"A/5 {21171 + i}" for i in range(80)], False),
    ],
)
def test_the_rule_tells_words_from_identifiers(values, text):
    assert free_text(pd.Series(values)) is text


def test_a_word_inside_a_name_decides_the_target(local_runner, tmp_path):
    csv = tmp_path / "passengers.csv"
    passengers().to_csv(csv, index=False)
    assert {f["name"]: f["kind"] for f in infer_features(passengers(), "survived")}[
        "name"
    ] == "text"

    outputs = training_pipeline(data_uri=str(csv), target_column="survived").outputs
    model = outputs["model"]
    assert model.metadata["features"]["name"] == "text"
    assert model.metadata["excluded_columns"] == ["ticket"]  # the ID stays id-like
    # Mr against the rest, through the word (5% of the labels flipped at random;
    # without the name, the fare alone is noise: 0.5).
    assert outputs["metrics"].metadata["balanced_accuracy"] > 0.85
    (report,) = local_runner.glob("**/validate-data/report")
    page = html.unescape(report.read_text()).replace("\n", " ")
    assert (
        "Read as free text (words and character n-grams, not categories nor IDs): ['name']" in page
    )

    # No training value of the free-text column is in any file of the model directory.
    # A value is a whole name as written ("Braund, Mr. Owen Harris"; each holds four
    # words here). The TF-IDF steps keep their 100 most frequent words and character
    # 2- to 4-grams (parts of values, lowercased: what the model reads); model.joblib
    # is zlib-compressed, so its pickle is searched uncompressed, as are the raw bytes.
    import pickle

    import joblib

    trained_names = set(passengers()["name"])
    folder = pathlib.Path(model.path)
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    assert [path.name for path in files] == ["metadata.json", "model.joblib"]
    contents = [path.read_bytes() for path in files]
    contents.append(pickle.dumps(joblib.load(folder / "model.joblib"), protocol=5))
    for content in contents:
        found = [name for name in trained_names if name.encode() in content]
        assert not found, found[:3]
    schema = json.loads((folder / "metadata.json").read_text())
    (text,) = [f for f in schema["features"] if f["name"] == "name"]
    assert "categories" not in text and text["unique"] == text["rows"] > 300
    assert 0 < text["length"]["min"] <= text["length"]["mean"] <= text["length"]["max"]

    # The pickled Pipeline holds the text terms and loads where none of our code is.
    rows_csv = tmp_path / "rows.csv"
    passengers(20, seed=3).drop(columns="survived").to_csv(rows_csv, index=False)
    script = (
        "import joblib, pandas as pd, sys; m = joblib.load(sys.argv[1]);"
        "print(sorted({type(s).__name__ for s in m[0].named_transformers_['text_0'][1]"
        ".transformer_list[0][1:]}), list(m.predict(pd.read_csv(sys.argv[2]))) )"
    )
    python = ROOT / ".venv-serving" / "bin" / "python"
    model_file = pathlib.Path(model.path) / "model.joblib"
    done = subprocess.run(
        [python, "-I", "-c", script, model_file, rows_csv], capture_output=True, text=True
    )
    assert done.stdout.startswith("['TfidfVectorizer']"), done.stderr[-2000:]
    names = passengers(20, seed=3)["name"]
    expected = ["no" if ", Mr. " in name else "yes" for name in names]
    predicted = json.loads(done.stdout.split("] ", 1)[1].replace("'", '"'))
    assert sum(p == e for p, e in zip(predicted, expected, strict=True)) >= 17


def zip_codes(rows: int, seed: int) -> pd.DataFrame:
    """300 postcodes, each with its own effect on the target: more than one-hot keeps."""
    rng = np.random.default_rng(seed)
    codes = np.array([f"Z{i:03d}" for i in range(300)])
    effect = dict(zip(codes, np.random.default_rng(0).normal(size=300), strict=True))
    frame = pd.DataFrame({"postcode": rng.choice(codes, rows), "x": rng.normal(size=rows)})
    score = frame["postcode"].map(effect) + 0.3 * frame["x"] + rng.normal(scale=0.3, size=rows)
    frame["y"] = np.where(score > 0, "yes", "no")
    return frame


def test_many_categories_get_target_means_that_load_without_our_code(tmp_path):
    from sklearn.metrics import roc_auc_score

    from tests.conftest import dataset
    from tests.test_model_selection import train

    zip_codes(1500, 0).to_parquet(tmp_path / "train")
    meta, _, _ = train(dataset(tmp_path / "train"), tmp_path, [{"min_samples_leaf": 5}])
    assert meta["features"][0]["unique"] > 50  # past what one-hot keeps

    rows_csv = tmp_path / "rows.csv"
    test = zip_codes(600, 1)
    test.drop(columns="y").to_csv(rows_csv, index=False)
    script = (
        "import joblib, pandas as pd, sys; m = joblib.load(sys.argv[1]);"
        "print(type(m[0].named_transformers_['target_encoded'][-1]).__name__);"
        "print(*m.predict_proba(pd.read_csv(sys.argv[2]))[:, 1])"
    )
    python = ROOT / ".venv-serving" / "bin" / "python"
    model_file = tmp_path / "model" / "model.joblib"
    done = subprocess.run(
        [python, "-I", "-c", script, model_file, rows_csv], capture_output=True, text=True
    )
    kind, probabilities = done.stdout.splitlines()
    assert kind == "TargetEncoder", done.stderr[-2000:]
    # Each postcode's own effect, learnt from about 4 rows a code.
    assert roc_auc_score(test["y"] == "yes", [float(p) for p in probabilities.split()]) > 0.85
