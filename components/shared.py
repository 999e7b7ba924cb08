"""Helpers shared by several components.

``tabular_component`` embeds, as source, each helper a component calls
(directly or through another helper) into that component, so a compiled
component YAML stands alone. That is why every helper imports what it needs
inside its own body, and refers to other helpers only by calling them.

Helpers are documented with comments, not docstrings: when KFP loads a
component YAML back, it takes the first docstring in the embedded source as
the component's description, and the helpers come before the component.
"""


# Stops the step with one clear line instead of a traceback.
#
# Args:
#     message: What is wrong and what to do about it.
def fail(message: str):
    raise SystemExit(f"kfp-tabular error: {message}")


# Returns the hex sha256 of a file, read in 1 MiB blocks.
#
# Args:
#     path: File to hash.
def file_sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Bounds artifact metadata, which grows with the data unless capped.
#
# KFP passes the executor input, input artifacts' metadata included, as one
# command-line argument (in a pod and on the local runner): an argument over
# 128 KiB stops the step with "Argument list too long", and ML Metadata limits
# sizes too. So every list or dict keeps its first ``limit`` entries and every
# text its first 200 characters, each cut marked ("… N more"). Metadata is a
# summary for a person in the UI; the detail is a file in the artifact or a report.
#
# Args:
#     value: Metadata value: dict, list, text, number.
#     limit: Most entries kept of each list or dict.
def bounded(value, limit: int = 20):
    if isinstance(value, dict):
        items = [(str(key)[:200], bounded(item, limit)) for key, item in value.items()]
        kept = dict(items[:limit])
        if len(items) > limit:
            kept["…"] = f"{len(items) - limit} more"
        return kept
    if isinstance(value, (list, tuple)):
        kept = [bounded(item, limit) for item in value[:limit]]
        return kept + [f"… {len(value) - limit} more"] if len(value) > limit else kept
    if isinstance(value, str) and len(value) > 200:
        return value[:199] + "…"
    return value


# The column whose name differs from ``name`` only in case or surrounding spaces, or None.
#
# Args:
#     name: The name asked for.
#     columns: The names there are.
def close_column(name: str, columns):
    wanted = str(name).strip().casefold()
    return next((str(c) for c in columns if str(c).strip().casefold() == wanted), None)


# Reads metadata.json of a model directory written by ``train_model``.
#
# Args:
#     path: Local path of the model directory.
#     source: How to name the model in messages (its URI).
def read_model_metadata(path: str, source: str) -> dict:
    import json
    import os

    model_file = os.path.join(path, "model.joblib")
    metadata_file = os.path.join(path, "metadata.json")
    if not (os.path.isfile(model_file) and os.path.isfile(metadata_file)):
        fail(
            f"{source}: not a model directory from training_pipeline (it needs model.joblib and "
            "metadata.json). Point the model URI at the 'model' output of a training run."
        )
    with open(metadata_file, encoding="utf-8") as handle:
        return json.load(handle)


# Loads a model directory written by ``train_model``, after checking it.
#
# Refuses a ``model.joblib`` whose sha256 differs from ``metadata.json`` (a
# changed or truncated file) and a model written by another scikit-learn
# version (joblib models only load reliably under the version that wrote them).
#
# Args:
#     path: Local path of the model directory.
#     source: How to name the model in messages (its URI).
#
# Returns:
#     ``(estimator, metadata)``: the fitted scikit-learn Pipeline and the metadata dict.
def load_model_dir(path: str, source: str):
    import os

    import joblib
    import sklearn

    metadata = read_model_metadata(path, source)
    model_file = os.path.join(path, "model.joblib")
    digest = file_sha256(model_file)
    if digest != metadata.get("sha256"):
        fail(
            f"{source}: model.joblib has sha256 {digest[:12]}… but metadata.json records "
            f"{str(metadata.get('sha256'))[:12]}…: the file was changed or truncated. "
            "Copy the model directory again from its training run."
        )
    trained_with = metadata.get("framework_version")
    if trained_with != sklearn.__version__:
        fail(
            f"{source}: the model was written by scikit-learn {trained_with}, this environment "
            f"has {sklearn.__version__}. Retrain it, or score under scikit-learn=={trained_with}."
        )
    return joblib.load(model_file), metadata


# Lets OpenMP's idle threads spin briefly, then sleep. scikit-learn's gradient
# boosting runs a thread a core through OpenMP, whose idle threads busy-wait by
# default: with another busy process on the cores (a second shard on the local
# runner, a neighbour on a node) the threads that wait steal the time of the
# ones working. 100 iterations on 42,000 rows beside one busy process on 2
# cores: 40.1 s spinning, 3.4 s sleeping, 1.5 s on one thread (measured). But
# sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs a wake-up per parallel
# region: on a quiet machine 300 iterations on 80,000 rows took 24.1 s passive
# against 3.6 s by default; a short spin (GOMP_SPINCOUNT=10000, libgomp's
# default is 300,000) took 3.7 s. Two batch_predict shards side by side (1M
# rows, local runner): 0.91x one shard's time at 10,000 spins, 1.36x by
# default, 0.89x passive. A neighbour that never yields (a pure-Python loop)
# is served best by sleeping: 300 iterations on 42,000 rows beside one took
# 1.6 s passive, 4.0 s by default, 7.4-9.8 s at 10,000 spins (0.9 s quiet,
# 7.9 s passive). Read by OpenMP when it loads, so called
# first in the steps that import scikit-learn; only in a step's own process
# (see ``exit_quickly``), and never over a value the user set.
def idle_threads_sleep():
    import os

    if os.environ.get("_KFP_RUNTIME") == "true" and "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")


# Lets the step's process end at once. At exit the interpreter scans every
# object still alive (with pandas and scikit-learn loaded: 0.45 s of a step,
# measured); moving them out of the garbage collector's reach first takes that
# to 0.1 s. Called last in the steps that load those libraries; only in a
# step's own process (KFP's command sets _KFP_RUNTIME), not when a test or a
# notebook calls the function directly.
def exit_quickly():
    import gc
    import os

    if os.environ.get("_KFP_RUNTIME") == "true":
        gc.freeze()


# Rows a streaming step reads at a time (load, validate, split, evaluate,
# bless): the memory of those steps is set by it, not by the table. Here, not
# in tables.py: scoring.py uses it, and the serving image carries shared.py and
# scoring.py but not the readers (Dockerfile.serving). The environment variable
# KFP_TABULAR_CHUNK_ROWS overrides it: the tests set a small one so that a
# small table spans many chunks, and a step whose rows are very wide can be
# given fewer. 200,000 rows of the issue 32 table (10 numbers,
# two text columns, a target) are about 40 MiB in pandas.
def chunk_rows() -> int:
    import os

    value = os.environ.get("KFP_TABULAR_CHUNK_ROWS", "").strip()
    if value and not value.isdigit():
        fail(f"KFP_TABULAR_CHUNK_ROWS must be a whole number of rows, got {value!r}.")
    return max(int(value or 200_000), 1)
