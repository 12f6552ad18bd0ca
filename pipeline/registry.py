"""The MLflow side: tracking runs, the `buyer-abuse` registered model and its aliases.

Every function takes the tracking store's URI (``Settings.tracking_uri``: ``MLFLOW_TRACKING_URI``,
else a SQLite store in the working directory, resolved by the CLI), so nothing here depends on
the environment or the working directory.
"""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import sys
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import sklearn
import sqlalchemy as sa
import tenacity
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from models.estimator import AbuseClassifier
from pipeline.errors import ConfigError, TemporaryFailure
from pipeline.files import json_text

log = logging.getLogger("buyer_abuse")

MODEL_NAME = "buyer-abuse"
EXPERIMENT = "buyer-abuse"
CHAMPION, CHALLENGER = "champion", "challenger"
# Calls to a registry that does not answer are tried this many times, the first wait RETRY_WAIT
# seconds and doubling (MLflow's HTTP client also retries each request on its own).
ATTEMPTS = 4
RETRY_WAIT = 0.5
# MLflow error codes that say "try again later".
_TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "ABORTED"}


class RegistryError(ConfigError):
    """The model registry cannot give what was asked (no registry, no champion yet)."""


class RegistryUnavailable(RegistryError, TemporaryFailure):
    """The model registry did not answer (after the retries)."""

    exit_code = TemporaryFailure.exit_code


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | sa.exc.OperationalError):
        return True
    if isinstance(exc, MlflowException):
        return exc.error_code in _TRANSIENT_CODES or "Max retries exceeded" in exc.message
    return False


def _retrying() -> tenacity.Retrying:
    def say(state: tenacity.RetryCallState) -> None:
        log.warning(
            "model registry: %s; try %d of %d in %.1f s",
            str(state.outcome.exception()).splitlines()[0],
            state.attempt_number + 1,
            ATTEMPTS,
            state.next_action.sleep,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=RETRY_WAIT, max=30),
        retry=tenacity.retry_if_exception(_transient),
        before_sleep=say,
        reraise=True,
    )


def check_store(uri: str) -> None:
    """Refuse a local SQLite tracking store that does not exist, without creating it: a run needs
    a champion, so a registry that is not there is a mistyped setting, not an empty registry."""
    if not uri.startswith("sqlite:"):
        return
    database = sa.make_url(uri).database
    if database and database != ":memory:" and not Path(database).is_file():
        raise RegistryError(f"no model registry at {database} (from {uri}): run `buyer-abuse train` first")


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
            _retrying()(mlflow.set_experiment, EXPERIMENT)
    except MlflowException as exc:
        error = RegistryUnavailable if _transient(exc) else RegistryError
        raise error(f"MLflow tracking store {uri} is not usable: {exc.message}") from None
    except (ConnectionError, TimeoutError, sa.exc.OperationalError) as exc:
        raise RegistryUnavailable(f"MLflow tracking store {uri} does not answer: {exc}") from None
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
    check_store(uri)
    client = configure(uri)
    try:
        version = _retrying()(client.get_model_version_by_alias, MODEL_NAME, alias)
    except MlflowException as exc:
        if _transient(exc):
            raise RegistryUnavailable(f"model registry at {uri} does not answer: {exc.message}") from None
        raise RegistryError(
            f"no model has the alias '{alias}' in the registry at {uri}: run `buyer-abuse train` first"
        ) from None
    uri = f"models:/{MODEL_NAME}@{alias}"
    with _mlflow_chatter_to_stdout():
        info = mlflow.models.get_model_info(uri)
        model = mlflow.pyfunc.load_model(uri).unwrap_python_model().classifier
    columns = {c.name: _SIGNATURE_TYPES.get(c.type.name, c.type.name) for c in info.signature.inputs.inputs}
    return RegisteredModel(model, str(version.version), columns, dict(version.tags or {}))


@dataclass(frozen=True)
class LoggedModel:
    """A model logged in a training run, not yet a registered version (see `register`)."""

    uri: str
    tags: dict[str, str]


def log_model(model: AbuseClassifier, example: pd.DataFrame, tags: dict[str, str]) -> LoggedModel:
    """Log the model in the active run as an MLflow pyfunc (``AbuseScorer``); `register` makes it
    a version of the registered model, with `tags`, once the run has decided its alias."""
    signature = infer_signature(example, model.predict_proba(example)[:, 1])
    # Listed, which skips MLflow's slow inference; the scorer itself is this package's code.
    requirements = [f"lightgbm=={lgb.__version__}", f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"]
    with _mlflow_chatter_to_stdout():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AbuseScorer(model),
            signature=signature,
            input_example=example.head(5),
            pip_requirements=requirements,
            tags=tags,
        )
    return LoggedModel(info.model_uri, dict(tags))


def register(logged: LoggedModel, alias: str) -> str:
    """Register `logged` as a new version with all its tags in one registry call, then give it
    `alias`; returns the version. If anything stops it between the two (an error, Ctrl-C), the
    version is deleted again: no version is left half-registered. A process killed outright in
    that instant leaves a version without alias whose run never finished, which the next
    training removes (`discard_incomplete`)."""
    with _mlflow_chatter_to_stdout():
        version = str(mlflow.register_model(logged.uri, MODEL_NAME, tags=logged.tags).version)
    try:
        set_alias(version, alias)
    except BaseException:
        MlflowClient().delete_model_version(MODEL_NAME, version)
        raise
    return version


def discard_incomplete(uri: str) -> list[str]:
    """Delete the versions a killed training left: no alias, and a training run that did not
    finish. Returns the versions deleted (their runs are marked KILLED)."""
    client = configure(uri)
    try:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    except MlflowException:
        return []
    deleted = []
    for found in versions:
        version = client.get_model_version(MODEL_NAME, found.version)
        if version.aliases or not version.run_id:
            continue
        run = client.get_run(version.run_id)
        if run.info.status == "FINISHED":
            continue
        log.warning(
            "removing %s version %s, left half-registered by a training that was killed", MODEL_NAME, version.version
        )
        client.delete_model_version(MODEL_NAME, version.version)
        if run.info.status == "RUNNING":
            client.set_terminated(version.run_id, "KILLED")
        deleted.append(str(version.version))
    return deleted


def choose_champion(uri: str, version: str, by: str, note: str | None = None) -> str | None:
    """An operator's choice: give version `version` the champion alias, and the version that held
    it the challenger alias. Logged as an MLflow run ``promote version N`` (tags: version,
    previous_champion, by, note). Returns the previous champion's version, if any."""
    client = configure(uri)
    try:
        client.get_model_version(MODEL_NAME, version)
    except MlflowException:
        raise RegistryError(f"{MODEL_NAME} has no version {version} in the registry at {uri}") from None
    try:
        previous = str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
    except MlflowException:
        previous = None
    with mlflow.start_run(run_name=f"promote version {version}"):
        mlflow.set_tags(
            {"kind": "promotion", "version": version, "previous_champion": previous or "none", "by": by}
            | ({"note": note} if note else {})
        )
        set_alias(version, CHAMPION)
        if previous and previous != version:
            set_alias(previous, CHALLENGER)
    return previous


def set_alias(version: str, alias: str) -> None:
    MlflowClient().set_registered_model_alias(MODEL_NAME, alias, version)


def provenance() -> dict[str, str]:
    """The package version and, from a git checkout, the commit the code was at (a trailing
    ``+dirty`` when the checkout had changes); "unknown" outside one."""
    root = Path(__file__).resolve().parent.parent
    git = lambda *args: subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
    try:
        mine = Path(git("rev-parse", "--show-toplevel").strip()) == root  # not some repository around site-packages
        revision = git("rev-parse", "HEAD").strip() + ("+dirty" if git("status", "--porcelain").strip() else "")
    except (OSError, subprocess.CalledProcessError):
        mine = False
    if not mine:
        revision = "unknown"
    return {"package_version": importlib.metadata.version("buyer-abuse"), "git_commit": revision}


def log_json(data: object, name: str) -> None:
    mlflow.log_text(json_text(data), name)  # strict JSON: NaN becomes null


def log_figure(figure, name: str) -> None:
    """Log a matplotlib figure in the active run."""
    mlflow.log_figure(figure, name)


def log_nightly(uri: str, as_of, metrics: dict[str, float], files: list[Path]) -> str:
    """An MLflow run ``nightly run as of DATE`` (tag ``kind=nightly``) with `metrics` and `files`
    as artifacts under ``nightly/``; returns its run id. Metrics step on the date, so MLflow
    charts each one across nights."""
    configure(uri)
    step = as_of.toordinal()
    with (
        _mlflow_chatter_to_stdout(),
        mlflow.start_run(
            run_name=f"nightly run as of {as_of}", tags={"kind": "nightly", "as_of": as_of.isoformat()}
        ) as run,
    ):
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}, step=step)
        for path in files:
            if Path(path).is_file():
                mlflow.log_artifact(str(path), "nightly")
    return run.info.run_id
