"""An MLServer runtime for a model directory of ``train_model``: checked rows, labelled answers.

The ServingRuntime that ``deploy_model`` renders runs it
(``MLSERVER_MODEL_IMPLEMENTATION=serving.runtime.TabularModel``). It reads
``model.joblib`` and ``metadata.json`` once, at load, as batch scoring does
(``load_model_dir``: the sha256 and the scikit-learn version are checked);
types each request's rows with batch scoring's own rule (``typed_rows``) and
scores them with its own function (``score_rows``), so online and batch
answers cannot drift apart; and answers a caller's mistake with HTTP 400 and
one line naming the column, the problem and the fix.

A V2 request sends one input per feature (any order, shape ``[rows]`` or
``[rows, 1]``): numbers as FP64/INT64 (or text that parses), categories, dates
and text as BYTES (categories may come as numbers too), ``null`` for a gap.
Without ``outputs`` it is answered with ``prediction`` and, for a classifier,
one ``proba_<class>`` per class (as batch_predict names its columns); a forest
regressor adds ``tree_p10`` and ``tree_p90``. The response ``parameters`` hold
the decision ``threshold`` in effect (a tuned model), and the gaps
(``missing_values``), ``unseen_categories`` and ``unparseable_dates`` per
column, counted as batch scoring counts them. ``outputs`` may also name
``predict`` or ``predict_proba``, answered as the stock sklearn runtime
answers them (the Pipeline's own methods).
"""

import logging
import os

from mlserver import MLModel
from mlserver.errors import InferenceError, MLServerError
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    MetadataModelResponse,
    MetadataTensor,
    Parameters,
    ResponseOutput,
)
from mlserver.utils import get_model_uri

# At import, not per request: a serving image missing one of the helpers'
# modules then fails at start (not ready), not with a 500 on every request.
from components.scoring import (
    score_rows,
    scoring_counts,
    share_identical_parts,
    single_threaded,
    typed_rows,
)
from components.shared import bounded, load_model_dir

logger = logging.getLogger("kfp_tabular.serving")

NUMBER_TYPES = {"FP16", "FP32", "FP64"} | {
    f"{sign}INT{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)
}
# The datatypes each feature kind accepts; text that parses stands for a number, as in a CSV.
ACCEPTED = {
    "numeric": NUMBER_TYPES | {"BYTES"},
    "categorical": NUMBER_TYPES | {"BYTES", "BOOL"},
    "datetime": {"BYTES"},
    "text": {"BYTES"},
}
STOCK_OUTPUTS = ("predict", "predict_proba")


class BadRequest(InferenceError):
    """A caller's mistake: HTTP 400 with one line (never a traceback)."""


class TabularModel(MLModel):
    """Serves a model directory written by ``train_model`` (model.joblib + metadata.json)."""

    async def load(self) -> bool:
        """Reads the model directory once; a bad one stops the load with one line."""
        from threadpoolctl import threadpool_limits

        uri = await get_model_uri(self.settings)
        folder = uri if os.path.isdir(uri) else os.path.dirname(uri)
        try:
            self._model, self._meta = load_model_dir(folder, folder)
        except SystemExit as stop:  # our helpers stop with one line (components.shared.fail)
            raise MLServerError(str(stop).removeprefix("kfp-tabular error: "), 500) from None
        self._features = self._meta["features"]
        self._task = self._meta.get("task", "classification")
        self._classes = [str(c) for c in getattr(self._model, "classes_", [])]
        if self._classes:
            self._label_type = self._encode("prediction", self._model.classes_).datatype
        # One thread each for OpenMP (gradient boosting) and BLAS too: they start a
        # thread per core of the node, not per CPU of the pod's limit, and a
        # 1-CPU predictor's threads would only queue for that CPU.
        self._threads = threadpool_limits(limits=1)
        forests = single_threaded(self._model)
        shared = share_identical_parts(self._model)
        logger.info(
            "Loaded %s (%s, %d features, %d parallel estimators set to one thread, "
            "%d identical parts shared).",
            folder, self._task, len(self._features), forests, shared,
        )  # fmt: skip
        return True

    def _output_names(self) -> list:
        names = ["prediction"]
        if self._task == "classification":
            names += [f"proba_{label}" for label in self._classes]
        elif hasattr(self._model[-1], "n_estimators") and hasattr(self._model[-1], "estimators_"):
            names += ["tree_p10", "tree_p90"]
        return names

    async def metadata(self) -> MetadataModelResponse:
        """The V2 model metadata: every feature with its datatype and kind, the outputs."""

        def kind_type(feature):
            return "FP64" if feature["kind"] == "numeric" else "BYTES"

        inputs = [
            MetadataTensor(
                name=f["name"],
                datatype=kind_type(f),
                shape=[-1],
                parameters=Parameters(kind=f["kind"], **{k: f[k] for k in ("format",) if k in f}),
            )
            for f in self._features
        ]
        outputs = [
            MetadataTensor(
                name=name,
                datatype=self._label_type if name == "prediction" and self._classes else "FP64",
                shape=[-1],
            )
            for name in self._output_names()
        ]
        about = {"task": self._task, "target_column": self._meta.get("target_column")}
        if self._classes:
            about["classes"] = self._classes
        if self._meta.get("threshold") is not None:
            about["threshold"] = self._meta["threshold"]
        about["model"] = self._meta.get("hyperparameters", {}).get("model")
        about["framework_version"] = self._meta.get("framework_version")
        return MetadataModelResponse(
            name=self.name,
            versions=[self.version] if self.version else [],
            platform=f"sklearn-{self._meta.get('framework_version')}",
            inputs=inputs,
            outputs=outputs,
            parameters=Parameters(**about),
        )

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """Scores the request's rows; a caller's mistake is HTTP 400 with one line."""
        import sklearn

        try:
            # typed_rows has checked every value (no text in numbers, nothing beyond
            # float32, gaps as NaN for the imputers), and the model's settings were
            # checked when it was fitted: scikit-learn's own checks, repeated in every
            # step of every member, cost 3 of 38 ms a row of the default ensemble
            # (benchmarks/serving.py), and change no figure.
            with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
                return self._answer(payload)
        except SystemExit as stop:  # typed_rows stops a bad row with one line (fail)
            # MLServer's worker pool shows it as "serving.runtime.BadRequest: <line>".
            raise BadRequest(str(stop).removeprefix("kfp-tabular error: request: ")) from None
        except MLServerError:
            raise
        except Exception as error:  # a fault of ours: a short answer, the detail to the log
            logger.exception("scoring failed")
            raise MLServerError(
                f"the model failed to score the request ({type(error).__name__}); "
                "the server log has the detail.",
                500,
            ) from None

    def _rows(self, payload: InferenceRequest):
        import numpy as np
        import pandas as pd

        kinds = {f["name"]: f["kind"] for f in self._features}
        if not payload.inputs:
            raise BadRequest(
                f"the request has no inputs. Send one input per feature: {self._feature_list()}."
            )
        columns, lengths = {}, {}
        for item in payload.inputs:
            name = item.name
            if name in columns:
                raise BadRequest(f"input {name!r} is sent twice. Send each feature once.")
            data = item.data.root if hasattr(item.data, "root") else item.data
            values = list(np.asarray(data, dtype=object).reshape(-1)) if data is not None else []
            shape = list(item.shape)
            rows = shape[0] if shape else 0
            flat = len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)
            if not flat or int(np.prod(shape)) != len(values):
                raise BadRequest(
                    f"input {name!r} has shape {shape} and {len(values)} values. Send one value "
                    f"per row, shape [rows] (or [rows, 1]) with as many values."
                )
            datatype = str(getattr(item.datatype, "value", item.datatype))
            kind = kinds.get(name)
            if kind is not None and datatype not in ACCEPTED[kind]:
                wanted = "FP64 (or INT64)" if kind == "numeric" else "BYTES"
                raise BadRequest(
                    f"input {name!r} is {datatype}, but the model reads it as {kind}. "
                    f"Send it as {wanted}."
                )
            if datatype == "BYTES":
                values = [v.decode("utf-8") if isinstance(v, bytes) else v for v in values]
            lengths[name] = rows
            columns[name] = values
        if len(set(lengths.values())) > 1:
            found = ", ".join(f"{n}: {r}" for n, r in sorted(lengths.items(), key=lambda i: i[1]))
            raise BadRequest(
                f"inputs have different numbers of rows ({found}). Send as many values for "
                "every feature, one per row (null for a gap)."
            )
        if not next(iter(lengths.values())):
            raise BadRequest("the request has no rows. Send at least one value per feature.")
        frame = pd.DataFrame(
            {name: pd.Series(values, dtype=object) for name, values in columns.items()}
        )
        for name in frame.columns:  # numbers as numbers; None for a gap becomes NaN
            values = columns[name]
            if all(v is None or type(v) in (int, float) for v in values) and kinds.get(name):
                frame[name] = pd.to_numeric(frame[name])
        ignored = [name for name in columns if name not in kinds]
        return frame, ignored

    def _feature_list(self) -> str:
        return str(bounded([f["name"] for f in self._features]))

    def _answer(self, payload: InferenceRequest) -> InferenceResponse:
        import numpy as np

        available = self._output_names()
        asked = [o.name for o in payload.outputs or []]
        for name in asked:
            if name not in available and name not in STOCK_OUTPUTS:
                raise BadRequest(
                    f"unknown output {name!r}. Ask for any of {available + list(STOCK_OUTPUTS)}, "
                    "or for none to get them all."
                )
            if name == "predict_proba" and self._task == "regression":
                raise BadRequest(
                    "output 'predict_proba' needs a classifier; this model is a regressor. "
                    "Ask for 'prediction' or 'predict'."
                )
        frame, ignored = self._rows(payload)
        inputs = typed_rows(
            frame=frame, features=self._features, source="request",
            options={"format": "csv", "decimal": "."},  # values as text, as a CSV's fields
        )  # fmt: skip
        threshold = self._meta.get("threshold")
        outputs = []
        if not asked or any(name in available for name in asked):
            scored = score_rows(
                estimator=self._model, task=self._task, inputs=inputs, threshold=threshold
            )
            for name in [n for n in available if not asked or n in asked]:
                outputs.append(self._encode(name, np.asarray(scored[name])))
            predictions = scored["prediction"]
        else:
            predictions = []
        counts = scoring_counts(
            inputs=inputs, features=self._features, predictions=predictions, task=self._task
        )
        for name in [n for n in asked if n in STOCK_OUTPUTS]:
            outputs.append(self._encode(name, np.asarray(getattr(self._model, name)(inputs))))
        extra = {
            key: counts[key] for key in ("missing_values", "unseen_categories", "unparseable_dates")
        }
        if threshold is not None:
            extra["threshold"] = threshold
        if ignored:
            extra["ignored_inputs"] = ignored
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            parameters=Parameters(**extra),
            outputs=outputs,
        )

    @staticmethod
    def _encode(name: str, values) -> ResponseOutput:
        import numpy as np

        if values.dtype.kind in "fc":
            datatype, data = "FP64", values.astype("float64").reshape(-1).tolist()
        elif values.dtype.kind in "iu":
            datatype, data = "INT64", values.astype("int64").reshape(-1).tolist()
        elif values.dtype.kind == "b":
            datatype, data = "BOOL", values.reshape(-1).tolist()
        else:
            datatype, data = "BYTES", [str(v) for v in np.asarray(values).reshape(-1)]
        return ResponseOutput(name=name, shape=list(values.shape), datatype=datatype, data=data)
