"""The review app in a real browser: `buyer-abuse review-app` on a loopback port against the
nightly run of a simulated market (conftest's `reviewed_run`), driven by Selenium through
Debian's headless chromium and chromium-driver (scripts/test installs them).

Screenshots of the queue, an account page and a seller page are written to
BUYER_ABUSE_SCREENSHOTS (default: the test's temporary directory); docs/review_app.md shows them."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from e2e import APP_PASSWORD, AS_OF

from pipeline import review_db

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.slow
WAIT = 30  # seconds for a page or the app to answer on a loaded two-core machine


try:  # the browser tests need Selenium (the test extra); without it they skip, like a missing browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover
    By = ec = WebDriverWait = None


def _unavailable(reason: str) -> None:
    """Skip, or fail where CI requires the browser tests (BUYER_ABUSE_REQUIRE_BROWSER=1)."""
    if os.environ.get("BUYER_ABUSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"headless browser required but unavailable: {reason}", pytrace=False)
    pytest.skip(f"headless browser unavailable: {reason}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(reviewed_run: Path, market: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`buyer-abuse review-app` on a free loopback port, on a copy of the reviewed run's database."""
    home = tmp_path_factory.mktemp("served")
    for name in ("review.db", "users.json"):
        shutil.copy(reviewed_run / name, home / name)
    port = _free_port()
    url = f"sqlite:///{home / 'review.db'}"
    command = [
        str(Path(sys.executable).with_name("buyer-abuse")),
        "review-app",
        "--review-db",
        url,
        "--runs",
        str(reviewed_run / "runs"),
        "--data",
        str(market),
        "--users-file",
        str(home / "users.json"),
        "--port",
        str(port),
    ]
    log = (home / "app.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"review-app did not start: {(home / 'app.log').read_text()[-2000:]}", pytrace=False)
            time.sleep(0.3)
        yield {"base": base, "url": url, "home": home}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if WebDriverWait is None:
        _unavailable("the selenium package is not installed (pip install -e '.[test]')")
    if CHROMIUM is None or DRIVER is None:
        _unavailable("no chromium or chromedriver on PATH (Debian packages chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("BUYER_ABUSE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def by_id(driver, name: str):
    return WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, name)))


def submit(driver, button_id: str) -> None:
    """Click a form's button and wait for the next page: the old button gone from the document
    (reading the page before would find the old one)."""
    button = by_id(driver, button_id)
    button.click()
    WebDriverWait(driver, WAIT).until(ec.staleness_of(button))


def sign_in(driver, base: str, user: str, password: str = APP_PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    by_id(driver, "username").send_keys(user)
    by_id(driver, "password").send_keys(password)
    by_id(driver, "sign-in").click()
    # Wait for the answer: a navigation cut short by the next one would drop the session cookie.
    WebDriverWait(driver, WAIT).until(lambda d: "/login" not in d.current_url or d.find_elements(By.ID, "login-failed"))


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(by_id(driver, select_id)).select_by_value(value)


def screenshot(driver, path: Path, full: bool = False) -> None:
    """A screenshot from the top of the page: the window, or (`full`) made as tall as the page."""
    driver.execute_script("window.scrollTo(0, 0)")
    if full:  # the window's size includes the browser's own bars: add them
        height, bars = driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]"
        )
        driver.set_window_size(1400, min(height + bars + 10, 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)


def engine(served: dict):
    return review_db.connect(served["url"])


def row(served: dict, account: str) -> dict:
    rows = review_db.read_queue(engine(served), AS_OF)
    return rows.loc[rows["account_id"] == account].iloc[0].to_dict()


def ring_with_members(served: dict) -> tuple[str, list[str]]:
    rows = review_db.read_queue(engine(served), AS_OF)
    ring = rows["ring_id"].value_counts().index[0]
    return ring, rows.loc[rows["ring_id"] == ring].sort_values("rank")["account_id"].tolist()


# The viewport position of an account's point in the plotly ring graph, from plotly's own axes.
POINT_OF = """
const gd = document.getElementById('ring-graph'), box = gd.getBoundingClientRect();
const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
for (const trace of gd._fullData) {
  const j = (trace.customdata || []).indexOf(arguments[0]);
  if (j >= 0) return [box.left + xa._offset + xa.l2p(trace.x[j]), box.top + ya._offset + ya.l2p(trace.y[j])];
}
return null;
"""


def post(driver, path: str, fields: dict) -> int:
    """The status of a POST made by the page's own script (same origin, with the session cookie)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]), redirect: 'manual'})"
        ".then(r => done(r.status));",
        path,
        fields,
    )


def test_an_analyst_filters_opens_an_account_sees_its_ring_claims_and_decides(browser, served, shots):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    base = served["base"]
    ring, members = ring_with_members(served)
    assert len(members) >= 4  # the other tests each take one
    sign_in(browser, base, "ana")
    assert "ana" in by_id(browser, "signed-in").text

    choose(browser, "f-status", "open")
    choose(browser, "f-ring", ring)
    submit(browser, "apply")
    assert by_id(browser, "shown").text == f"Showing {len(members)} of 40."
    shown = [r.get_attribute("data-account") for r in browser.find_elements(By.CSS_SELECTOR, "#queue tbody tr")]
    assert shown == members

    account = members[0]
    browser.find_element(By.LINK_TEXT, account).click()
    assert by_id(browser, "status").text == "open"
    by_id(browser, "timeline-figure")
    # The ring graph is drawn (plotly's SVG), one point per member, and a click opens a member.
    browser.execute_script("document.getElementById('ring').scrollIntoView()")
    points = browser.find_elements(By.CSS_SELECTOR, "#ring-graph .scatterlayer .trace .points path")
    assert len(points) >= len(members)
    other = next(m for m in members if m != account)
    x, y = browser.execute_script(POINT_OF, other)
    actions = ActionBuilder(browser)
    actions.pointer_action.move_to_location(int(x), int(y)).click()
    actions.perform()
    WebDriverWait(browser, WAIT).until(lambda d: f"/account/{other}?" in d.current_url)
    assert by_id(browser, "rank").text == str(int(row(served, other)["rank"]))

    browser.get(f"{base}/account/{account}?as_of={AS_OF}")
    submit(browser, "claim")
    assert by_id(browser, "claimed-by").text == "ana"
    by_id(browser, "v-confirmed_abuse").click()
    by_id(browser, "note").send_keys("ring of resellers, same card")
    submit(browser, "record")
    assert by_id(browser, "status").text == "confirmed_abuse"

    decided = row(served, account)
    assert (decided["status"], decided["reviewed_by"], decided["note"]) == (
        "confirmed_abuse",
        "ana",
        "ring of resellers, same card",
    )
    history = review_db.events(engine(served), [account])
    assert history[["action", "to_status", "changed_by"]].values.tolist() == [
        ["claim", "open", "ana"],
        ["verdict", "confirmed_abuse", "ana"],
    ]
    assert "ring of resellers, same card" in by_id(browser, "history").text
    screenshot(browser, shots / "account.png", full=True)

    # Another case claimed, then the day's queue as the team sees it.
    rows = review_db.read_queue(engine(served), AS_OF)
    elsewhere = rows.loc[~rows["account_id"].isin(members), "account_id"].iloc[0]
    browser.get(f"{base}/account/{elsewhere}?as_of={AS_OF}")
    submit(browser, "claim")
    assert by_id(browser, "claimed-by").text == "ana"
    browser.get(f"{base}/queue")
    assert "confirmed_abuse 1" in by_id(browser, "counts").text and "1 claimed" in by_id(browser, "counts").text
    screenshot(browser, shots / "queue.png")


def test_the_sellers_page_opens_a_seller_whose_cancellations_are_drawn(browser, served, shots):
    sign_in(browser, served["base"], "vic")  # a viewer reads the sellers' pages too
    submit(browser, "nav-sellers")
    top = browser.find_element(By.CSS_SELECTOR, "#sellers tbody tr")
    seller = top.get_attribute("data-seller")
    assert top.find_element(By.CSS_SELECTOR, "td").text == "1"

    top.find_element(By.LINK_TEXT, seller).click()
    WebDriverWait(browser, WAIT).until(lambda d: f"/seller/{seller}?" in d.current_url)
    # The figure is drawn (plotly's SVG): bars, and the abuse-driven part named in the legend.
    bars = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#seller-timeline .barlayer .point path")
    )
    assert len(bars) > 1 and "abuse-driven" in by_id(browser, "seller-timeline").text
    assert int(by_id(browser, "abuse-cancels").text) > 0
    screenshot(browser, shots / "seller.png", full=True)


def test_a_wrong_password_is_refused(browser, served):
    sign_in(browser, served["base"], "ana", password="not the password")

    assert by_id(browser, "login-failed").text == "Wrong user name or password."
    browser.get(f"{served['base']}/queue")
    assert "/login" in browser.current_url


def test_a_viewer_cannot_record_a_verdict_even_with_the_form_enabled(browser, served):
    _, members = ring_with_members(served)
    account = members[1]
    sign_in(browser, served["base"], "vic")
    browser.get(f"{served['base']}/account/{account}?as_of={AS_OF}")
    assert by_id(browser, "read-only").is_displayed() and not by_id(browser, "record").is_enabled()

    # A viewer who edits the page still meets the server's refusal.
    browser.execute_script("document.querySelectorAll('fieldset').forEach(f => f.disabled = false)")
    by_id(browser, "v-cleared").click()
    submit(browser, "record")

    assert "vic is a viewer" in by_id(browser, "refusal").text
    assert row(served, account)["status"] == "open"


def test_a_forged_request_without_the_csrf_token_is_refused(browser, served):
    _, members = ring_with_members(served)
    account = members[1]
    sign_in(browser, served["base"], "ana")
    browser.get(f"{served['base']}/account/{account}?as_of={AS_OF}")

    status = post(browser, f"/account/{account}/verdict", {"as_of": str(AS_OF), "status": "cleared"})

    assert status == 403
    assert row(served, account)["status"] == "open"
    assert review_db.events(engine(served), [account]).empty


def test_of_two_analysts_claiming_one_account_the_second_is_told_who_holds_it(browser, served):
    _, members = ring_with_members(served)
    account = members[2]
    sign_in(browser, served["base"], "bo")
    browser.get(f"{served['base']}/account/{account}?as_of={AS_OF}")
    assert by_id(browser, "claimed-by").text == "nobody"

    # Meanwhile ana claims it from her own browser session.
    with httpx.Client(base_url=served["base"], follow_redirects=True) as ana:
        token = ana.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
        ana.post("/login", data={"username": "ana", "password": APP_PASSWORD, "csrf_token": token})
        page = ana.get(f"/account/{account}?as_of={AS_OF}").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        seen = page.split('name="seen" value="')[1].split('"')[0]
        ana.post(f"/account/{account}/claim", data={"csrf_token": token, "as_of": str(AS_OF), "seen": seen})
    submit(browser, "claim")

    assert "is claimed by ana" in browser.find_element("css selector", ".flash-error").text
    assert by_id(browser, "claimed-by").text == "ana"
    assert review_db.claims_of(engine(served), AS_OF).set_index("account_id").loc[account, "claimed_by"] == "ana"


def test_the_csv_export_escapes_a_formula_like_note(browser, served):
    _, members = ring_with_members(served)
    account = members[3]
    sign_in(browser, served["base"], "ana")
    browser.get(f"{served['base']}/account/{account}?as_of={AS_OF}")
    by_id(browser, "v-escalated").click()
    by_id(browser, "note").send_keys('=HYPERLINK("http://evil.example","open")')
    submit(browser, "record")
    assert by_id(browser, "status").text == "escalated"

    browser.get(f"{served['base']}/queue?status=escalated")
    link = by_id(browser, "export").get_attribute("href")
    text = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);", link
    )

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["account_id"], r["status"]) for r in rows] == [(account, "escalated")]
    assert rows[0]["note"] == '\'=HYPERLINK("http://evil.example","open")'
