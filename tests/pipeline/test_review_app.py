"""The review app's logic, through Starlette's TestClient, on the nightly run of a simulated
market (conftest's `reviewed_run`): sign-in, roles, CSRF, the queue and its filters and export,
the account page's evidence, claims, verdicts, ring verdicts and the history they leave, the
sellers' pages."""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from e2e import APP_PASSWORD, AS_OF, invoke, one_line
from fastapi.testclient import TestClient

from pipeline import analysis, review_db, rundirs
from pipeline.errors import EX_CONFIG, EX_TEMPFAIL
from pipeline.review_app import AppConfig, create_app
from pipeline.review_app.users import add_user, authenticate, read_users


@pytest.fixture
def home(reviewed_run: Path, tmp_path: Path) -> Path:
    """A copy of the reviewed run's review database and user file (the run directories and the
    snapshot are only read)."""
    for name in ("review.db", "users.json"):
        shutil.copy(reviewed_run / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def config(home: Path, reviewed_run: Path, market: Path) -> AppConfig:
    return AppConfig(
        review_db=f"sqlite:///{home / 'review.db'}",
        runs=reviewed_run / "runs",
        users_file=home / "users.json",
        data=market,
    )


@pytest.fixture
def app(config: AppConfig):
    return create_app(config)


def client(app, user: str | None = None) -> TestClient:
    c = TestClient(app, base_url="http://127.0.0.1")
    if user is not None:
        c.get("/login")
        done = c.post("/login", data={"username": user, "password": APP_PASSWORD, "csrf_token": token(c, "/login")})
        assert done.status_code == 200 and "/queue" in str(done.url), done.text
    return c


def token(c: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text).group(1)


def engine(config: AppConfig):
    return review_db.connect(config.review_db)


def queue(config: AppConfig) -> pd.DataFrame:
    return review_db.read_queue(engine(config), AS_OF)


def form_of(c: TestClient, account: str) -> dict:
    page = c.get(f"/account/{account}?as_of={AS_OF}").text
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        "seen": re.search(r'name="seen" value="(\d+)"', page).group(1),
        "as_of": str(AS_OF),
    }


def test_a_visitor_is_sent_to_sign_in_and_a_wrong_password_is_refused(app):
    c = client(app)

    first = c.get("/queue", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login?next=%2Fqueue")

    wrong = c.post("/login", data={"username": "ana", "password": "guess", "csrf_token": token(c, "/login")})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    nobody = c.post("/login", data={"username": "mallory", "password": APP_PASSWORD, "csrf_token": token(c, "/login")})
    assert nobody.status_code == 401
    assert c.get("/queue", follow_redirects=False).status_code == 303


def test_the_queue_shows_the_latest_day_with_counts_filters_and_sorting(app, config):
    rows = queue(config)
    c = client(app, "ana")

    page = c.get("/queue").text
    assert f"Review queue of {AS_OF}" in page
    assert "open 40" in page and "confirmed_abuse 0" in page
    assert all(a in page for a in rows["account_id"])

    ring = rows["ring_id"].dropna().iloc[0]
    in_ring = c.get("/queue", params={"ring": ring}).text
    assert f"Showing {int((rows['ring_id'] == ring).sum())} of 40" in in_ring
    top = c.get("/queue", params={"score_min": rows["score"].iloc[4]}).text
    assert "Showing 5 of 40" in top
    by_score = c.get("/queue", params={"sort": "score", "dir": "asc"}).text
    assert by_score.index(rows["account_id"].iloc[-1]) < by_score.index(rows["account_id"].iloc[0])
    assert c.get("/queue", params={"claimed_by": "(nobody)"}).text.count('class="row-open"') == 40


def test_the_account_page_shows_score_reasons_orders_payments_ring_and_history(app, config):
    rows = queue(config)
    row = rows.dropna(subset=["ring_id"]).iloc[0]
    c = client(app, "vic")

    page = c.get(f"/account/{row.account_id}?as_of={AS_OF}").text

    assert f"{row.score:.3f}" in page and f'id="rank">{row["rank"]}<' in page and row.model_version in page
    first_reason = review_db.read_queue(engine(config), AS_OF).set_index("account_id").loc[row.account_id, "reasons"]
    assert pd.read_json(io.StringIO(first_reason))["text"].iloc[0].replace("'", "&#39;") in page
    assert 'id="timeline-figure"' in page and "data:image/png;base64," in page
    assert "Payment attempts (" in page
    assert 'id="ring-graph"' in page and "plotly_click" in page
    assert 'id="read-only"' in page  # a viewer sees the forms disabled
    assert c.get("/static/plotly.min.js").text.startswith("/**")  # served from the plotly package


def test_a_claim_and_a_verdict_record_the_signed_in_analyst_and_two_events(app, config):
    account = queue(config)["account_id"].iloc[0]
    c = client(app, "ana")

    c.post(f"/account/{account}/claim", data=form_of(c, account))
    done = c.post(
        f"/account/{account}/verdict",
        data=form_of(c, account) | {"status": "confirmed_abuse", "note": "same card as u1", "reviewed_by": "mallory"},
    )

    assert done.status_code == 200 and "confirmed_abuse, recorded as ana" in done.text
    row = queue(config).set_index("account_id").loc[account]
    assert (row["status"], row["reviewed_by"], row["note"]) == ("confirmed_abuse", "ana", "same card as u1")
    events = review_db.events(engine(config), [account])
    assert events[["action", "from_status", "to_status", "changed_by"]].values.tolist() == [
        ["claim", "open", "open", "ana"],
        ["verdict", "open", "confirmed_abuse", "ana"],
    ]
    assert review_db.verdicts(engine(config))["account_id"].tolist() == [account]  # the next training's label


def test_a_second_analysts_claim_and_a_stale_verdict_are_refused_with_a_message(app, config):
    account = queue(config)["account_id"].iloc[1]
    ana, bo = client(app, "ana"), client(app, "bo")
    bo_form = form_of(bo, account)  # bo opens the page before ana claims

    ana.post(f"/account/{account}/claim", data=form_of(ana, account))
    second = bo.post(f"/account/{account}/claim", data=bo_form)
    stale = bo.post(f"/account/{account}/verdict", data=form_of(bo, account) | {"status": "cleared"})

    assert "is claimed by ana" in second.text and "is claimed by ana" in stale.text
    assert queue(config).set_index("account_id").loc[account, "status"] == "open"
    ana.post(f"/account/{account}/release", data=form_of(ana, account))
    late = bo.post(f"/account/{account}/verdict", data=bo_form | {"status": "cleared"})
    assert "changed since you opened it" in late.text
    assert review_db.events(engine(config), [account])["action"].tolist() == ["claim", "release"]


def test_a_viewer_and_a_request_without_the_csrf_token_change_nothing(app, config):
    account = queue(config)["account_id"].iloc[2]
    vic, ana = client(app, "vic"), client(app, "ana")

    viewer = vic.post(f"/account/{account}/verdict", data=form_of(vic, account) | {"status": "cleared"})
    forged = ana.post(f"/account/{account}/verdict", data={"as_of": str(AS_OF), "status": "cleared"})
    wrong = ana.post(f"/account/{account}/claim", data=form_of(ana, account) | {"csrf_token": "x" * 43})

    assert viewer.status_code == 403 and "vic is a viewer" in viewer.text
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert wrong.status_code == 403
    assert review_db.events(engine(config)).empty


def test_a_ring_verdict_decides_its_queued_members_and_lists_them(app, config):
    rows = queue(config)
    ring = rows["ring_id"].value_counts().index[0]
    members = rows.loc[rows["ring_id"] == ring, "account_id"].tolist()
    c = client(app, "ana")

    done = c.post(
        f"/ring/{ring}/verdict",
        data=form_of(c, members[0])
        | {
            "account_id": members[0],
            "status": "confirmed_abuse",
            "seen": "0",
        },
    )

    assert all(m in done.text for m in members) and f"Ring {ring}: confirmed_abuse for" in done.text
    after = queue(config).set_index("account_id")
    assert (after.loc[members, "status"] == "confirmed_abuse").all()
    assert sorted(review_db.events(engine(config))["account_id"]) == sorted(members)


def test_the_csv_export_is_the_filtered_queue_with_formula_like_cells_made_inert(app, config):
    account = queue(config)["account_id"].iloc[3]
    review_db.record_verdict(engine(config), account, AS_OF, "escalated", "ana", note='=HYPERLINK("http://x")')
    c = client(app, "vic")

    export = c.get("/queue.csv", params={"status": "escalated"})

    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["account_id"], r["note"]) for r in rows] == [(account, '\'=HYPERLINK("http://x")')]


def test_proxy_sign_in_believes_the_header_only_from_the_trusted_proxy(config):
    add_user(config.users_file, "sso-ana", "analyst", None)
    proxied = create_app(AppConfig(**{**config.__dict__, "auth": "proxy", "trusted_proxies": ("10.0.0.0/8",)}))

    from_proxy = TestClient(proxied, client=("10.1.2.3", 5000)).get("/queue", headers={"X-Forwarded-User": "sso-ana"})
    direct = TestClient(proxied, client=("192.168.1.9", 5000)).get("/queue", headers={"X-Forwarded-User": "sso-ana"})
    stranger = TestClient(proxied, client=("10.1.2.3", 5000)).get("/queue", headers={"X-Forwarded-User": "eve"})

    assert from_proxy.status_code == 200 and "sso-ana" in from_proxy.text
    assert direct.status_code == 403 and "only through its sign-in proxy" in direct.text
    assert stranger.status_code == 403
    assert authenticate(config.users_file, "sso-ana", "") is None  # a proxy user has no password to guess


def test_users_add_and_remove_keep_salted_hashes_in_a_private_file(tmp_path, monkeypatch):
    users = tmp_path / "users.json"
    password = "a long enough secret"
    for name in ("cleo", "dan"):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        code, out, err = invoke("users", "add", name, "--role", "viewer", "--password-stdin", "--users-file", users)
        assert (code, err) == (0, "") and f"added {name} (viewer)" in out

    stored = read_users(users)
    assert users.stat().st_mode & 0o777 == 0o600
    assert password not in users.read_text()
    assert (
        stored["cleo"]["password"].startswith("$argon2id$") and stored["cleo"]["password"] != stored["dan"]["password"]
    )
    assert authenticate(users, "cleo", password).role == "viewer"
    assert authenticate(users, "cleo", password + "!") is None

    code, out, _ = invoke("users", "remove", "cleo", "--users-file", users)
    assert code == 0 and authenticate(users, "cleo", password) is None
    code, _, err = invoke("users", "remove", "cleo", "--users-file", users)
    assert code == 64 and one_line(err) == f"no user 'cleo' in {users}"


def test_the_app_refuses_to_start_without_a_user_or_without_a_trusted_proxy(config, tmp_path):
    empty = tmp_path / "nobody.json"

    code, _, err = invoke("review-app", "--review-db", config.review_db, "--users-file", empty)
    assert code == EX_CONFIG and "no user with a password" in one_line(err)
    code, _, err = invoke(
        "review-app", "--review-db", config.review_db, "--users-file", config.users_file, "--auth", "proxy"
    )
    assert code == EX_CONFIG and "--auth proxy needs --trusted-proxy" in one_line(err)


def test_the_command_line_filters_exports_and_shows_the_history(config, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    account = queue(config)["account_id"].iloc[0]
    url = config.review_db

    def verdict(status: str, by: str, *more: str) -> tuple[int, str, str]:
        return invoke(
            "verdict", "--review-db", url, "--account", account, "--as-of", AS_OF, "--status", status, "--by", by, *more
        )

    assert verdict("cleared", "bo", "--note", "+1 legit")[0] == 0
    code, out, _ = invoke("queue", "--review-db", url, "--status", "cleared", "--format", "csv")
    assert code == 0 and next(csv.DictReader(io.StringIO(out)))["note"] == "'+1 legit"
    code, out, _ = invoke("queue", "--review-db", url, "--status", "open", "--format", "json")
    assert code == 0 and len(pd.read_json(io.StringIO(out))) == 39
    code, out, _ = invoke("queue", "--review-db", url, "--status", "cleared")
    assert code == 0 and account in out and "(top 1 of 40 cleared)" in out
    code, out, _ = invoke("history", "--review-db", url, "--account", account)
    assert code == 0 and "verdict" in out and "bo" in out and "+1 legit" in out

    review_db.claim(engine(config), account, AS_OF, "ana")
    code, _, err = verdict("confirmed_abuse", "bo")
    assert code == EX_TEMPFAIL and "is claimed by ana" in one_line(err)


def sabotage_target(config: AppConfig, market: Path) -> tuple[str, pd.DataFrame]:
    """The seller where the simulated saboteurs' (truth.parquet) abuse-driven cancellations of
    the run landed most, and those cancellations."""
    saboteurs = pl.read_parquet(market / "truth.parquet").filter(pl.col("pattern") == "seller_sabotage")
    cancels = analysis.seller_cancellations(analysis.run_dir(config.runs, AS_OF))
    theirs = cancels[cancels["abuse_driven"] & cancels["account_id"].isin(saboteurs["account_id"].to_list())]
    target = theirs["seller_id"].value_counts().index[0]
    return target, theirs[theirs["seller_id"] == target]


def test_the_sellers_page_ranks_the_seller_the_sabotage_ring_targets_and_links_to_its_page(app, config, market):
    target, theirs = sabotage_target(config, market)
    exposure = analysis.seller_exposure(analysis.run_dir(config.runs, AS_OF)).set_index("seller_id").loc[target]
    c = client(app, "vic")

    page = c.get("/sellers").text

    assert f'Most targeted sellers <span class="sub">run of {AS_OF}' in page and 'href="/sellers"' in page
    row = re.search(rf'<tr data-seller="{target}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert int(cells[0]) == exposure["target_rank"] and f'href="/seller/{target}?as_of={AS_OF}"' in cells[1]
    assert cells[4] == str(exposure["abuse_cancels"]) and int(cells[4]) >= len(theirs)
    rate, low, high = exposure[["cancel_rate", "cancel_rate_low", "cancel_rate_high"]]
    assert cells[5] == f"{rate:.1%} ({low:.1%}–{high:.1%})"
    assert any(ring in cells[9] for ring in theirs["ring_id"].dropna())  # the reason names the saboteurs' ring


def test_a_seller_page_shows_its_abuse_driven_count_figure_and_buyers_abuse_driven_first(app, config, market):
    target, theirs = sabotage_target(config, market)
    exposure = analysis.seller_exposure(analysis.run_dir(config.runs, AS_OF)).set_index("seller_id").loc[target]
    c = client(app, "vic")

    page = c.get(f"/seller/{target}", params={"as_of": str(AS_OF)}).text

    assert f'id="abuse-cancels">{exposure["abuse_cancels"]}<' in page
    assert f'id="cancellations">{exposure["cancellations"]}<' in page
    assert 'id="seller-timeline"' in page and '<script src="/static/plotly.min.js">' in page
    assert all(f'href="/account/{a}?as_of={AS_OF}"' in page for a in theirs["account_id"])
    listed = re.findall(r'<tr class="(abuse|)" data-account="([^"]+)"', page)
    marked = [cls for cls, _ in listed]
    assert marked == sorted(marked, reverse=True)  # every abuse-driven buyer before the others
    assert set(theirs["account_id"]) <= {a for cls, a in listed if cls == "abuse"}


def test_an_unknown_seller_is_a_404_and_a_visitor_is_sent_to_sign_in(app):
    missing = client(app, "vic").get("/seller/s-nobody")
    assert missing.status_code == 404 and 'id="refusal"' in missing.text and "No seller s-nobody" in missing.text

    for path, sign_in in (("/sellers", "/login?next=%2Fsellers"), ("/seller/s1", "/login?next=%2Fseller%2Fs1")):
        first = client(app).get(path, follow_redirects=False)
        assert (first.status_code, first.headers["location"]) == (303, sign_in)


def test_a_run_made_before_the_seller_exposure_gets_a_message_not_a_crash(config, tmp_path):
    older = rundirs.run_dir(tmp_path / "runs", AS_OF)
    older.mkdir(parents=True)
    shutil.copy(analysis.run_dir(config.runs, AS_OF) / "summary.json", older)  # complete, without sellers.parquet
    c = client(create_app(replace(config, runs=tmp_path / "runs")), "vic")

    for path in ("/sellers", "/seller/s1"):
        answer = c.get(path)
        assert answer.status_code == 404 and 'id="refusal"' in answer.text
        assert "has no seller exposure" in answer.text and "run that date again" in answer.text
