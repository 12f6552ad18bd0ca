"""The MLflow side: tracking runs, the `buyer-abuse` registered model and its aliases.

Every function takes the tracking store's URI (``Settings.tracking_uri``: ``MLFLOW_TRACKING_URI``,
else a SQLite store in the working directory, resolved by the CLI), so nothing here depends on
the environment or the working directory.
"""

from __future__ import annotations

import json
import sys
from contextlib import redirect_stderr
from dataclasses import dataclass

import lightgbm as lgb
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import sklearn
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.estimator import AbuseClassifier
from pipeline.errors import PipelineError

MODEL_NAME = "buyer-abuse"
EXPERIMENT = "buyer-abuse"
CHAMPION, CHALLENGER = "champion", "challenger"


class RegistryError(PipelineError):
    """The model registry cannot give what was asked (no champion yet, unreachable store)."""


def _mlflow_chatter_to_stdout() -> redirect_stderr:
    """MLflow prints its progress ("Creating initial MLflow database tables", "Created version
    '2'") on stderr, which carries nothing but the one line of a failure here (pipeline.progress)."""
    return redirect_stderr(sys.stdout)


def configure(uri: str) -> MlflowClient:
    """Point MLflow at the tracking store `uri` and the project's experiment."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        with _mlflow_chatter_to_stdout():
            mlflow.set_experiment(EXPERIMENT)
    except MlflowException as exc:
        raise RegistryError(f"MLflow tracking store {uri} is not usable: {exc.message}") from None
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class AbuseScorer(mlflow.pyfunc.PythonModel):
    """The registered model as MLflow serves it: `predict` gives the probability of abuse of
    each row of a frame holding the feature columns (so `mlflow models serve`, `spark_udf` and
    `pyfunc.load_model(...).predict` return scores, not 0/1 labels)."""

    def __init__(self, classifier: AbuseClassifier) -> None:
        self.classifier = classifier

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        return self.classifier.predict_proba(model_input)[:, 1]


@dataclass(frozen=True)
class RegisteredModel:
    """A loaded registry version with the exact feature columns (name -> polars type) it takes."""

    model: AbuseClassifier
    version: str
    columns: dict[str, str]
    tags: dict[str, str]

    @property
    def feature_set_version(self) -> str | None:
        return self.tags.get("feature_set_version")

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def label(self) -> str:
        return f"{MODEL_NAME}/{self.version}"


_SIGNATURE_TYPES = {
    "double": "Float64",
    "float": "Float32",
    "long": "Int64",
    "integer": "Int32",
    "boolean": "Boolean",
    "string": "String",
}


def load(uri: str, alias: str = CHAMPION) -> RegisteredModel:
    """`models:/buyer-abuse@<alias>` from the store `uri`, with its signature's columns."""
    client = configure(uri)
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        raise RegistryError(
            f"no model has the alias '{alias}' in the registry at {uri}: run `buyer-abuse train` first"
        ) from None
    uri = f"models:/{MODEL_NAME}@{alias}"
    with _mlflow_chatter_to_stdout():
        info = mlflow.models.get_model_info(uri)
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model().classifier
    columns = {c.name: _SIGNATURE_TYPES.get(c.type.name, c.type.name) for c in info.signature.inputs.inputs}
    return RegisteredModel(model, str(version.version), columns, dict(version.tags or {}))


def log_model(model: AbuseClassifier, example: pd.DataFrame, tags: dict[str, str]) -> str:
    """Log the model in the active run as an MLflow pyfunc (``AbuseScorer``) and register it,
    with `tags` on the registered version; returns the new version number."""
    signature = infer_signature(example, model.predict_proba(example)[:, 1])
    # Listed, which skips MLflow's slow inference; the scorer itself is this package's code.
    requirements = [f"lightgbm=={lgb.__version__}", f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"]
    with _mlflow_chatter_to_stdout():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AbuseScorer(model),
            signature=signature,
            registered_model_name=MODEL_NAME,
            pip_requirements=requirements,
            tags=tags,
        )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        MlflowClient().set_model_version_tag(MODEL_NAME, version, key, value)
    return version


def set_alias(version: str, alias: str) -> None:
    MlflowClient().set_registered_model_alias(MODEL_NAME, alias, version)


def log_json(data: object, name: str) -> None:
    mlflow.log_text(json.dumps(data, indent=2, default=str), name)


def log_figure(figure, name: str) -> None:
    """Log a matplotlib figure in the active run."""
    mlflow.log_figure(figure, name)
