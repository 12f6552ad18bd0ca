"""The ``buyer-abuse`` command line: one thin subcommand per stage, each calling the library."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import click

from contract.tables import REPAIRS, default_actions
from contract.values import REVIEW_STATUSES, RuleAction
from features.time import as_of_day
from pipeline.errors import EX_INTERRUPTED, EX_SOFTWARE, EX_USAGE, PipelineError, RejectLimitExceeded
from pipeline.progress import configure_logging
from pipeline.settings import ENGINES, ENVIRONMENT, SPARK_SUBMIT_GATEWAY, Settings
from simulator.params import DELAY_TAILS, LABEL_PROCESSES

DIR = click.Path(path_type=Path, file_okay=False)


class Day(click.ParamType):
    """A date YYYY-MM-DD (features.time.as_of_day), given to the command as a `date`."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx) -> date:
        try:
            return as_of_day(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DAY = Day()


class PairType(click.ParamType):
    """NAME=VALUE on the command line or in a variable, as a (name, value) pair (`pair`);
    click passes the defaults, already pairs, through `convert` too."""

    def convert(self, value, param, ctx) -> tuple:
        if isinstance(value, tuple):
            return value
        name, sep, setting = str(value).partition("=")
        return self.pair(name, sep, setting, value, param, ctx)

    def pair(self, name: str, sep: str, setting: str, value, param, ctx) -> tuple:
        raise NotImplementedError


class RuleActionType(PairType):
    """RULE=ACTION: a repairable validation rule (contract.tables.REPAIRS) and reject or repair."""

    name = "RULE=ACTION"

    def pair(self, rule: str, sep: str, action: str, value, param, ctx) -> tuple[str, RuleAction]:
        if rule not in REPAIRS:
            self.fail(f"{rule!r} is not a rule with a stated repair; use one of {', '.join(REPAIRS)}", param, ctx)
        try:
            return rule, RuleAction(action)
        except ValueError:
            self.fail(f"{value!r}: the action is one of {', '.join(RuleAction)}", param, ctx)


class SparkConfType(PairType):
    """KEY=VALUE: one Spark setting (e.g. spark.executor.memory=8g)."""

    name = "KEY=VALUE"

    def pair(self, key: str, sep: str, setting: str, value, param, ctx) -> tuple[str, str]:
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE (e.g. spark.executor.memory=8g)", param, ctx)
        return key.strip(), setting


def _setting(*names: str, **kwargs):
    """An option for a setting: option, else its environment variable, else the default. The
    default is the one of the working directory the command runs in (`main` passes them in
    click's default map), and --help shows it."""
    setting = kwargs.pop("setting")
    return click.option(*names, setting, envvar=ENVIRONMENT[setting], show_default=True, show_envvar=True, **kwargs)


def _repeated(option: str, setting: str, **kwargs):
    """A repeatable option for a setting made of pairs; its variable holds several, separated by spaces."""
    return click.option(option, setting, multiple=True, envvar=ENVIRONMENT[setting], show_envvar=True, **kwargs)


SETTING_OPTIONS = {
    "review_db": _setting("--review-db", setting="review_db", help="SQLAlchemy URL of the review database."),
    "tracking_uri": _setting(
        "--tracking-uri", setting="tracking_uri", help="MLflow tracking store holding the model registry."
    ),
    "runs": _setting("--out", setting="runs", type=DIR, help="Run directories RUNS/as_of=DATE/ go here."),
    "capacity": _setting(
        "--capacity",
        setting="capacity",
        type=click.IntRange(min=1),
        help="Accounts written to the review queue per run.",
    ),
    "reject_limit": _setting(
        "--reject-limit",
        setting="reject_limit",
        type=click.FloatRange(0, 1),
        help="Largest share of any table that may be rejected before the run stops.",
    ),
    "rule_actions": _repeated(
        "--rule-action",
        "rule_actions",
        type=RuleActionType(),
        show_default=" ".join(f"{rule}={action}" for rule, action in default_actions().items()),
        help="What validation does with a row breaking a rule that has a stated repair: reject it (to the "
        "rejects file) or repair it (kept, fixed, and recorded with action=repaired); repeatable, the variable "
        "holds several separated by spaces; rules not named keep their default (docs/data_contract.md).",
    ),
    "engine": _setting(
        "--engine",
        setting="engine",
        type=click.Choice(ENGINES),
        help="Who builds the features and scores: this process, or Apache Spark (the spark extra; docs/spark.md).",
    ),
    "spark_master": _setting(
        "--spark-master",
        setting="spark_master",
        help="With --engine spark: the Spark master to start (local[N], spark://HOST:PORT, yarn, k8s://...); "
        "under spark-submit, its --master is used unless this is given.",
    ),
    "spark_conf": _repeated(
        "--spark-conf",
        "spark_conf",
        type=SparkConfType(),
        show_default="none: the local defaults (docs/spark.md), or spark-submit's",
        help="With --engine spark: a Spark setting KEY=VALUE over the local defaults (docs/spark.md); "
        "repeatable, the variable holds several separated by spaces.",
    ),
    "spark_staging": click.option(
        "--spark-staging",
        "spark_staging",
        envvar=ENVIRONMENT["spark_staging"],
        show_envvar=True,
        show_default="a temporary local directory",
        help="With --engine spark: where the validated tables and intermediate steps go, a directory or a URI "
        "the executors can read (hdfs://, s3a://, abfss://, gs://, file://); a subdirectory of its own is "
        "removed afterwards.",
    ),
    "users_file": _setting(
        "--users-file",
        setting="users_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The review app's user file: names, roles and salted password hashes.",
    ),
}
ENGINE_SETTINGS = ("engine", "spark_master", "spark_conf", "spark_staging")


def settings(*names: str):
    """Add the options of the named settings to a command, in this order."""

    def decorate(command):
        for name in reversed(names):
            command = SETTING_OPTIONS[name](command)
        return command

    return decorate


def resolved(values: dict) -> Settings:
    """The Settings of a command from its resolved options (the settings it has no option for
    keep their defaults); the options are removed from `values`."""
    chosen = {name: values.pop(name) for name in SETTING_OPTIONS if name in values}
    return replace(Settings.defaults(Path.cwd()), **chosen)


def default_map(defaults: Settings, group: click.Group | None = None) -> dict[str, dict[str, object]]:
    """click's default map: each command's setting options with the defaults of `defaults` (a
    group's commands nested under its name)."""
    return {
        name: default_map(defaults, command)
        if isinstance(command, click.Group)
        else {p.name: getattr(defaults, p.name) for p in command.params if p.name in SETTING_OPTIONS}
        for name, command in (group or app).commands.items()
    }


data_option = click.option("--data", type=DIR, required=True, help="Snapshot directory (docs/data_contract.md).")
as_of_option = click.option(
    "--as-of",
    "as_of",
    type=DAY,
    required=True,
    help="Date YYYY-MM-DD: everything known up to the end of that UTC day, nothing after.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120})
@click.version_option(package_name="buyer-abuse", prog_name="buyer-abuse", message="%(prog)s %(version)s")
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def app(verbose: bool) -> None:
    """Find malicious order-then-cancel buyers in a marketplace snapshot."""
    configure_logging(verbose)


class DelayDays(click.ParamType):
    """MIN:MEDIAN days, 0 <= MIN < MEDIAN."""

    name = "MIN:MEDIAN"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            low, median = (float(part) for part in value.split(":"))
        except ValueError:
            self.fail(f"{value!r} is not MIN:MEDIAN days (e.g. 2:10)", param, ctx)
        if not 0 <= low < median:
            self.fail(f"{value!r} needs 0 <= MIN < MEDIAN", param, ctx)
        return low, median


def _preset(part: str) -> str:
    """`[default: ...]` text of a label option that the preset decides unless given."""
    return f"the preset's, {part} in default"


SHARE = click.FloatRange(0, 1)
DEFAULT_LABELS = LABEL_PROCESSES["default"]


@app.command()
@click.option("--out", type=DIR, required=True, help="Directory to write the snapshot and truth.parquet into.")
@click.option("--accounts", type=click.IntRange(min=50), default=5000, show_default=True, help="Buyer accounts.")
@click.option("--days", type=click.IntRange(7, 730), default=60, show_default=True, help="Days of activity.")
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed gives the same market.")
@click.option(
    "--variation",
    type=SHARE,
    default=0.0,
    show_default=True,
    help="Draw every pattern's parameters (shares, group sizes, order rates, behaviour, shared entities) "
    "around the documented ones: each times 2**u, u uniform in [-X, X], seeded by --seed. 0: as documented.",
)
@click.option(
    "--label-process",
    "preset",
    type=click.Choice(list(LABEL_PROCESSES)),
    default="default",
    show_default=True,
    help="How labels arrive, by name (docs/simulator.md); the --label-* and --labels-* options change parts of it.",
)
@click.option(
    "--label-delay-days",
    type=DelayDays(),
    show_default=_preset(
        f"{DEFAULT_LABELS.delay.min_days:g}-{DEFAULT_LABELS.delay.min_days + DEFAULT_LABELS.delay.jitter_days:g} days "
        f"+ exponential, median {DEFAULT_LABELS.delay.median_days():.1f}"
    ),
    help="Days from an abuser's first abuse to its label: never sooner than MIN, half of them by MEDIAN.",
)
@click.option(
    "--label-delay-tail",
    type=click.Choice(DELAY_TAILS),
    show_default=_preset(DEFAULT_LABELS.delay.tail),
    help="Shape of the label delay beyond its minimum (lognormal: a heavier tail into months).",
)
@click.option(
    "--label-coverage",
    type=SHARE,
    show_default=_preset(f"{DEFAULT_LABELS.coverage:g}"),
    help="Share of abusers reviewed on their own evidence; ring takedowns label ring-mates on top.",
)
@click.option(
    "--labels-ban/--labels-no-ban",
    "bans",
    default=None,
    show_default=_preset("ban" if DEFAULT_LABELS.bans else "no ban"),
    help="Whether an abuse label stops the account (no order or session after it), or the account carries on "
    "as after a chargeback or a policy flag.",
)
@click.option(
    "--label-noise",
    type=SHARE,
    show_default=_preset(f"{DEFAULT_LABELS.false_abuse:g}"),
    help="Share of reviewed accounts labelled wrongly, in both directions: honest ones abuse, abusers legit.",
)
@click.option(
    "--label-corrections",
    type=SHARE,
    show_default=_preset(f"{DEFAULT_LABELS.corrected:g}"),
    help="Share of wrong labels reversed later by a newer label row.",
)
@click.option(
    "--label-takedown",
    type=SHARE,
    show_default=_preset(f"{DEFAULT_LABELS.ring_takedown:g}"),
    help="Probability that a ring-mate of a labelled ring member is labelled with it.",
)
def simulate(
    out: Path,
    accounts: int,
    days: int,
    seed: int,
    variation: float,
    preset: str,
    label_delay_days: tuple[float, float] | None,
    label_delay_tail: str | None,
    label_coverage: float | None,
    bans: bool | None,
    label_noise: float | None,
    label_corrections: float | None,
    label_takedown: float | None,
) -> None:
    """Write a synthetic marketplace in the contract format, plus its ground truth."""
    from pipeline.progress import track
    from simulator import MarketConfig, label_process, write_market

    labels = label_process(
        preset,
        delay_days=label_delay_days,
        delay_tail=label_delay_tail,
        coverage=label_coverage,
        bans=bans,
        noise=label_noise,
        corrected=label_corrections,
        ring_takedown=label_takedown,
    )
    cfg = MarketConfig(accounts=accounts, days=days, seed=seed, variation=variation, label_process=labels)
    write_market(cfg, out, track=track)


@app.command()
@data_option
@click.option("--out", type=DIR, required=True, help="Directory to write rejects.parquet and summary.json into.")
@settings("reject_limit", "rule_actions")
def validate(data: Path, out: Path, **options) -> None:
    """Check a snapshot against the data contract; write its rejects and counts."""
    from pipeline.files import write_json_atomic
    from pipeline.preflight import outputs_outside
    from pipeline.snapshot import load_snapshot, summarize, write_rejects

    chosen = resolved(options)
    outputs_outside(data, out)
    try:
        result = load_snapshot(data, reject_limit=chosen.reject_limit, actions=chosen.actions)
    except RejectLimitExceeded as exc:  # the rejects say why: write them all the same
        write_rejects(exc.rejects, out / "rejects.parquet")
        raise RejectLimitExceeded(f"{exc} (rejects in {out / 'rejects.parquet'})", exc.rejects) from None
    write_rejects(result.rejects, out / "rejects.parquet")
    write_json_atomic(summarize(result), out / "summary.json")
    click.echo(f"{'table':<18}{'rows':>12}{'rejected':>12}")
    for table, count in result.counts.items():
        click.echo(f"{table:<18}{count['rows']:>12}{count['rejected']:>12}")


@app.command()
@data_option
@as_of_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Parquet file to write.")
@click.option(
    "--buckets",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Process accounts in this many hash buckets (bounded memory; same table; local engine).",
)
@settings("reject_limit", "rule_actions", *ENGINE_SETTINGS)
def features(data: Path, as_of, out: Path, buckets: int, **options) -> None:
    """Build the account feature table as of the end of --as-of (one row per account)."""
    from pipeline.featurize import write_features
    from pipeline.preflight import day_is_over, outputs_outside

    chosen = resolved(options)
    day_is_over(as_of)
    outputs_outside(data, out, out.with_name(f"{out.stem}.rejects.parquet"))
    write_features(
        data,
        as_of,
        out,
        buckets=buckets,
        reject_limit=chosen.reject_limit,
        actions=chosen.actions,
        engine=chosen.engine,
        spark=chosen.spark,
    )


@app.command()
@data_option
@as_of_option
@settings("review_db", "tracking_uri", "reject_limit", "rule_actions", *ENGINE_SETTINGS)
@click.pass_context
def train(ctx: click.Context, data: Path, as_of, **options) -> None:
    """Train on labels (and analysts' verdicts) in force at --as-of; register; promote if better."""
    from pipeline import review_db as db
    from pipeline.engine import check_engine
    from pipeline.preflight import day_is_over
    from pipeline.snapshot import check_snapshot
    from pipeline.train import train as train_model

    chosen = resolved(options)
    day_is_over(as_of)
    check_snapshot(data)
    check_engine(chosen.engine)
    # Analysts' verdicts are labels too: from the review database, unless it is the default
    # SQLite file and there is none yet (no run has written a queue).
    default_and_absent = (
        ctx.get_parameter_source("review_db")
        in (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
        and not Path(chosen.review_db.removeprefix("sqlite:///")).exists()
    )
    verdicts = (
        None
        if default_and_absent
        else db.verdict_labels(db.connect(chosen.review_db, create=False, attempts=db.CONNECT_ATTEMPTS))
    )
    result = train_model(data, as_of, chosen, verdicts=verdicts)
    click.echo(f"{'model version':<44}{result.version} ({result.alias}; champion {result.champion.state.value})")
    for name, value in sorted(result.metrics.items()):
        if name.startswith("backtest_") and not name.startswith("backtest_1") and not name.startswith("backtest_2"):
            click.echo(f"{name:<44}{value:.3f}")


@app.command()
@settings("tracking_uri")
@click.option("--version", "version", type=click.IntRange(min=1), required=True, help="Registered version to promote.")
@click.option("--by", "chosen_by", default=getpass.getuser, show_default="the current user", help="Who chose.")
@click.option("--note", help="Why, for the next operator.")
def promote(tracking_uri: str, version: int, chosen_by: str, note: str | None) -> None:
    """Make version N the champion by an operator's choice (logged as an MLflow run)."""
    from pipeline import registry

    previous = registry.choose_champion(tracking_uri, str(version), chosen_by, note)
    was = f"; version {previous} is now challenger" if previous and previous != str(version) else ""
    click.echo(f"{registry.MODEL_NAME} version {version} is champion{was}")


run_settings = settings(
    "review_db", "tracking_uri", "capacity", "runs", "reject_limit", "rule_actions", *ENGINE_SETTINGS
)


@app.command()
@as_of_option
@data_option
@run_settings
def run(as_of, data: Path, **options) -> None:
    """The scheduled batch: validate, features, score with the champion, write the review queue."""
    from pipeline import rundirs
    from pipeline.run import run as run_batch

    chosen = resolved(options)
    summary = run_batch(data, as_of, chosen)
    click.echo(
        f"scored {summary['scored']:,} accounts, queued {summary['queued']} with {summary['model']}; "
        f"outputs in {rundirs.run_dir(chosen.runs, as_of)}"
    )


@app.command()
@click.option("--from", "start", type=DAY, required=True, help="First date YYYY-MM-DD.")
@click.option("--to", "end", type=DAY, required=True, help="Last date YYYY-MM-DD (inclusive).")
@click.option("--force", is_flag=True, help="Re-run dates that are already complete.")
@click.option(
    "--keep-going",
    is_flag=True,
    help="Go on past a failing date; end with the list of failed dates and a non-zero exit.",
)
@data_option
@run_settings
def backfill(start, end, force: bool, keep_going: bool, data: Path, **options) -> None:
    """Run every date in a range, skipping dates already complete unless --force."""
    from pipeline.run import BackfillFailed
    from pipeline.run import backfill as run_range

    def show(outcomes: list) -> None:
        for day, outcome in outcomes:
            click.echo(f"{day}  {' '.join(outcome.split())}")

    try:
        show(run_range(data, start, end, resolved(options), force=force, keep_going=keep_going))
    except BackfillFailed as exc:  # every date was tried: show them all, then fail
        show(exc.done)
        raise


FORMATS = ("table", "csv", "json")


@app.command()
@settings("review_db")
@click.option("--as-of", "as_of", type=DAY, help="Scoring date [default: the latest in the table].")
@click.option("--status", type=click.Choice(REVIEW_STATUSES), help="Only rows with this status.")
@click.option(
    "--format",
    "shape",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for a terminal; csv (formula-like cells escaped for spreadsheets) or json to export.",
)
@click.option(
    "--top", type=click.IntRange(min=1), help="Rows to show, in rank order.  [default: 10 for a table, all otherwise]"
)
def queue(review_db: str, as_of, status: str | None, shape: str, top: int | None) -> None:
    """Show the top of the review queue with the reasons for each account."""
    from pipeline.queue import show_queue

    click.echo(show_queue(review_db, as_of, top, status=status, shape=shape), nl=False)


@app.command()
@settings("review_db")
@click.option("--as-of", "as_of", type=DAY, required=True, help="Scoring date of the run.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Sellers to show.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="A table for the terminal, or CSV / JSON (reasons parsed) for other tools.",
)
def sellers(review_db: str, as_of, top: int, fmt: str) -> None:
    """Show the sellers most hit by suspects' cancellations, with their exposure and the reasons."""
    from pipeline.sellers import show_sellers

    show_sellers(review_db, as_of, top, fmt)


@app.command()
@settings("review_db")
@click.option("--account", required=True, help="account_id of the queued account.")
@click.option("--as-of", "as_of", type=DAY, required=True, help="The scoring date of the queue row.")
@click.option("--status", type=click.Choice(REVIEW_STATUSES), required=True)
@click.option("--by", "reviewed_by", required=True, help="Who decided.")
@click.option("--note", help="Free text for the next analyst.")
def verdict(review_db: str, account: str, as_of, status: str, reviewed_by: str, note: str | None) -> None:
    """Record an analyst's verdict on a queued account (a label for training, an event in its history)."""
    from pipeline import review_db as db

    engine = db.connect(review_db, create=False, attempts=db.CONNECT_ATTEMPTS)  # never a new, empty database
    db.record_verdict(engine, account, as_of, status, reviewed_by, note)
    click.echo(f"{account} on {as_of}: {status}")


@app.command()
@settings("review_db")
@click.option("--account", required=True, help="account_id whose history to show.")
@click.option(
    "--format", "shape", type=click.Choice(("table", "json")), default="table", show_default=True, help="table or json."
)
def history(review_db: str, account: str, shape: str) -> None:
    """Every claim, release and verdict on an account, on any scoring date, oldest first."""
    from pipeline.queue import show_history

    click.echo(show_history(review_db, account, shape), nl=False)


@app.command("review-app")
@settings("review_db")
@_setting("--runs", setting="runs", type=DIR, help="Run directories RUNS/as_of=DATE/ to read.")
@click.option(
    "--data",
    type=DIR,
    envvar="BUYER_ABUSE_DATA",
    show_envvar=True,
    help="Snapshot directory, for the order timeline, payment attempts and ring graph [default: none: "
    "the account page shows the queue row, reasons and history only].",
)
@settings("users_file")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; the default is loopback only.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="Port to listen on.")
@click.option(
    "--auth",
    type=click.Choice(("password", "proxy")),
    default="password",
    show_default=True,
    help="password: sign in against the user file; proxy: the user named by --proxy-header, only on requests "
    "from a --trusted-proxy address (the user file gives the role).",
)
@click.option("--proxy-header", default="X-Forwarded-User", show_default=True, help="With --auth proxy.")
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    help="Address or network (CIDR) of the reverse proxy, repeatable; needed with --auth proxy.",
)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only (behind a TLS proxy).")
def review_app(
    review_db: str,
    runs: Path,
    data: Path | None,
    users_file: Path,
    host: str,
    port: int,
    auth: str,
    proxy_header: str,
    trusted_proxies: tuple[str, ...],
    secure_cookies: bool,
) -> None:
    """Serve the analysts' review app: the queue, the accounts' evidence, claims and verdicts, and the sellers suspects aimed at."""
    from pipeline.review_app import AppConfig, serve
    from pipeline.review_app.preflight import check_app

    config = AppConfig(
        review_db=review_db,
        runs=runs,
        data=data,
        users_file=users_file,
        auth=auth,
        proxy_header=proxy_header,
        trusted_proxies=trusted_proxies,
        secure_cookies=secure_cookies,
        **({"secret": os.environ["BUYER_ABUSE_APP_SECRET"]} if os.environ.get("BUYER_ABUSE_APP_SECRET") else {}),
    )
    check_app(config, host)
    serve(config, host, port)


@app.group()
def users() -> None:
    """Manage the review app's user file (names, roles, salted password hashes)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(("analyst", "viewer")), required=True, help="analyst decides; viewer reads.")
@click.option(
    "--no-password",
    is_flag=True,
    help="A user who signs in only through the trusted proxy (--auth proxy): no password is stored.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin instead of a prompt."
)
@settings("users_file")
def users_add(name: str, role: str, no_password: bool, password_stdin: bool, users_file: Path) -> None:
    """Add a user, or change one's role and password."""
    from pipeline.review_app.users import add_user

    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    new = add_user(users_file, name, role, password)
    click.echo(f"{'added' if new else 'updated'} {name} ({role}) in {users_file}")


@users.command("remove")
@click.argument("name")
@settings("users_file")
def users_remove(name: str, users_file: Path) -> None:
    """Remove a user: signed-in sessions of theirs end with their next request."""
    from pipeline.review_app.users import remove_user

    remove_user(users_file, name)
    click.echo(f"removed {name} from {users_file}")


def main() -> None:
    """Entry point: every failure becomes one line on stderr and a non-zero exit."""
    try:
        defaults = Settings.defaults(Path.cwd())
        if SPARK_SUBMIT_GATEWAY in os.environ:
            # Started by spark-submit (which hands its JVM to Python this way): the master is the
            # one spark-submit was given, unless --spark-master or its variable says otherwise.
            defaults = replace(defaults, spark_master=None)
        defaults = default_map(defaults)
        code = app.main(prog_name="buyer-abuse", standalone_mode=False, default_map=defaults)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `buyer-abuse`: show the help
        print(exc.format_message())
        code = 0
    except click.ClickException as exc:  # a command line click cannot parse
        _fail(f"{exc.format_message()} (see --help)", EX_USAGE)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _fail("interrupted", EX_INTERRUPTED)
    except PipelineError as exc:  # the exit code says what kind (pipeline.errors)
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # an unexpected failure still ends in one line; the trace is opt-in
        if os.environ.get("BUYER_ABUSE_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set BUYER_ABUSE_DEBUG=1 for the traceback)", EX_SOFTWARE)
    sys.exit(code or 0)


def _fail(message: str, code: int) -> None:
    print("buyer-abuse: error: " + " ".join(message.split()), file=sys.stderr)
    sys.exit(code)
