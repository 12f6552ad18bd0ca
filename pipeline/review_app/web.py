"""The review app's pages and actions (FastAPI, pages rendered on the server with Jinja2).

Reads the review database, the run directories and (for the evidence) the snapshot, through
``pipeline.analysis``, the notebooks' API: the queue and its filters, the order timeline, the
payment attempts, the ring and its members' status, the sellers' exposure are computed there,
once. Writes only claims, verdicts and their events, through ``pipeline.review_db``.

Every state-changing request is a POST carrying the session's CSRF token (synchronizer token,
kept in the signed session cookie, compared in constant time) and made by a signed-in analyst;
the verdict records that user, never a name from the form.
"""

from __future__ import annotations

import base64
import functools
import hmac
import io
import ipaddress
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from contract.outputs import SELLER_WINDOW_DAYS
from contract.values import REVIEW_STATUSES, VERDICTS
from pipeline import analysis, review_db
from pipeline.analysis.queue import UNCLAIMED
from pipeline.errors import CaseConflict, InputError, PipelineError
from pipeline.review_app.users import User, authenticate, known_user
from pipeline.sellers import rate_interval

log = logging.getLogger("buyer_abuse")

HERE = Path(__file__).parent
SORTS = ("rank", "score", "account_id", "status", "ring_id", "claimed_by")
MAX_RING_DRAWN = 150  # accounts; a larger linked group is listed, not drawn
SESSION_HOURS = 12


@dataclass(frozen=True)
class AppConfig:
    """What the app reads and how people sign in (resolved once, by the command line)."""

    review_db: str  # SQLAlchemy URL
    runs: Path  # run directories RUNS/as_of=DATE/
    users_file: Path  # the local user file (buyer-abuse users add|remove): names, roles, password hashes
    data: Path | None = None  # the snapshot, for the order timeline, payments and ring graph
    auth: str = "password"  # or "proxy": identity from `proxy_header`, only from `trusted_proxies`
    proxy_header: str = "X-Forwarded-User"
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks (CIDR) of the reverse proxy
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)  # signs session cookies
    secure_cookies: bool = False  # send the session cookie over HTTPS only (behind a TLS proxy)


class Refused(Exception):
    """A request this user may not make: shown as a page with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(config: AppConfig) -> FastAPI:
    """The ASGI application: `uvicorn.run(create_app(config))`, or Starlette's TestClient."""
    app = FastAPI(title="buyer-abuse review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret,
        session_cookie="buyer_abuse_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=config.secure_cookies,
    )
    templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes: notes and ids are free text
    templates.env.globals["rate_interval"] = rate_interval  # rates as `buyer-abuse sellers` shows them
    engine = review_db.connect(config.review_db, create=False, attempts=review_db.CONNECT_ATTEMPTS)
    proxies = [ipaddress.ip_network(p, strict=False) for p in config.trusted_proxies]

    @functools.lru_cache(maxsize=1)
    def snapshot_as(modified: int):  # one snapshot in memory, read again when its directory changes
        return analysis.snapshot(config.data)

    def snap():
        return None if config.data is None else snapshot_as(config.data.stat().st_mtime_ns)

    # -- who is asking ------------------------------------------------------------------------

    def user_of(request: Request) -> User | None:
        if config.auth == "proxy":
            peer = request.client.host if request.client else ""
            try:
                trusted = any(ipaddress.ip_address(peer) in net for net in proxies)
            except ValueError:
                trusted = False
            if not trusted:
                raise Refused(403, "This app accepts requests only through its sign-in proxy.")
            name = request.headers.get(config.proxy_header)
            if not name:
                raise Refused(403, f"The proxy sent no {config.proxy_header} header: sign in through it.")
            user = known_user(config.users_file, name)
            if user is None:
                raise Refused(403, f"{name} is not a user of this app: ask for `buyer-abuse users add {name}`.")
            return user
        name = request.session.get("user")
        return None if name is None else known_user(config.users_file, name)  # removed users are out at once

    def csrf_token(request: Request) -> str:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        return request.session["csrf"]

    async def checked_form(request: Request, *, decide: bool = True) -> tuple[User | None, dict]:
        """The form of a POST whose CSRF token matches the session's, from a user who may decide."""
        form = dict(await request.form())
        expected = request.session.get("csrf")
        if not expected or not hmac.compare_digest(str(form.get("csrf_token", "")), expected):
            raise Refused(
                403, "This request did not carry this page's security token (CSRF): reload the page and try again."
            )
        if not decide:
            return None, form
        user = user_of(request)
        if user is None:
            raise Refused(401, "Sign in first.")
        if not user.may_decide:
            raise Refused(403, f"{user.name} is a viewer: only analysts claim cases and record verdicts.")
        return user, form

    def page(request: Request, name: str, status_code: int = 200, user: User | None = None, **context) -> HTMLResponse:
        context |= {
            "user": user or user_of(request),
            "csrf_token": csrf_token(request),
            "flashes": request.session.pop("flash", []),
            "password_auth": config.auth == "password",
        }
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def flash(request: Request, kind: str, text: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]

    def signed_in(request: Request) -> User:
        user = user_of(request)
        if user is None:
            raise NeedsSignIn()
        return user

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        try:
            user = user_of(request)
        except Refused:
            user = None
        context = {"user": user, "message": str(exc), "csrf_token": csrf_token(request), "flashes": []}
        context["password_auth"] = config.auth == "password"
        return templates.TemplateResponse(request, "message.html", context, status_code=exc.status)

    class NeedsSignIn(Exception):
        pass

    @app.exception_handler(NeedsSignIn)
    async def needs_sign_in(request: Request, exc: NeedsSignIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(PipelineError)
    async def pipeline_error(request: Request, exc: PipelineError) -> Response:
        return await refused(request, Refused(404 if isinstance(exc, InputError) else 400, str(exc)))

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    # -- signing in ---------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/queue"):
        if config.auth == "proxy":
            return RedirectResponse("/queue", status_code=303)
        return page(request, "login.html", next=_local(next))

    @app.post("/login")
    async def login(request: Request):
        if config.auth == "proxy":
            raise Refused(404, "Sign in through the proxy.")
        _, form = await checked_form(request, decide=False)
        user = authenticate(config.users_file, str(form.get("username", "")), str(form.get("password", "")))
        if user is None:
            log.warning("review app: failed sign-in for %r from %s", form.get("username"), request.client)
            return page(
                request, "login.html", 401, next=_local(str(form.get("next", "/queue"))), failed=True, user=None
            )
        request.session.clear()  # a new session at sign-in: nothing carried over from before
        request.session["user"] = user.name
        log.info("review app: %s signed in", user.name)
        return RedirectResponse(_local(str(form.get("next", "/queue"))), status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        await checked_form(request, decide=False)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- the queue ----------------------------------------------------------------------------

    def queue_view(request: Request) -> dict:
        """The queue of the date asked (the latest run by default), filtered and sorted as asked."""
        args = request.query_params
        dates = review_db.queue_dates(engine)
        day = analysis.locations.as_date(args["as_of"]) if args.get("as_of") else (dates[0] if dates else None)
        rows = analysis.queue(engine, day) if day is not None else analysis.queue(engine)
        filters = {
            "status": args.get("status") or None,
            "ring": args.get("ring") or None,
            "score_min": _number(args.get("score_min")),
            "score_max": _number(args.get("score_max")),
            "claimed_by": args.get("claimed_by") or None,
        }
        shown = analysis.filter_queue(rows, **filters)
        sort = args.get("sort") if args.get("sort") in SORTS else "rank"
        descending = args.get("dir") == "desc"
        shown = shown.sort_values([sort, "rank"], ascending=[not descending, True], na_position="last")
        counts = rows["status"].value_counts().reindex(list(REVIEW_STATUSES), fill_value=0)
        return {
            "day": day,
            "dates": dates,
            "rows": shown,
            "all": rows,
            "counts": counts.to_dict(),
            "filters": filters,
            "sort": sort,
            "descending": descending,
            "rings": sorted(rows["ring_id"].dropna().unique()),
            "claimers": sorted(rows["claimed_by"].dropna().unique()),
            "query": urlencode({k: v for k, v in args.items() if v}),
        }

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue_page(request: Request):
        user = signed_in(request)
        return page(
            request,
            "queue.html",
            user=user,
            statuses=REVIEW_STATUSES,
            sorts=SORTS,
            unclaimed=UNCLAIMED,
            **queue_view(request),
        )

    @app.get("/queue.csv")
    def queue_export(request: Request):
        signed_in(request)
        view = queue_view(request)
        name = f"review-queue-{view['day']}.csv"
        return PlainTextResponse(
            analysis.queue_csv(view["rows"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # -- one account ----------------------------------------------------------------------------

    def day_asked(as_of: str | None) -> tuple[date, list[date]]:
        """The date asked, else the latest queued one (the queue's default), and the queue's dates:
        the account and seller pages of one date read the same run."""
        dates = review_db.queue_dates(engine)
        day = analysis.locations.as_date(as_of) if as_of else (dates[0] if dates else None)
        if day is None:
            raise Refused(404, "The review queue is empty: run `buyer-abuse run` first.")
        return day, dates

    def ring_of(day: date, account_id: str, row: dict | None) -> tuple[str | None, list[str]]:
        """The account's ring on `day` and its members, as the run built them (else as queued)."""
        ring = row.get("ring_id") if row else None
        run = _run_dir(config.runs, day)
        if ring is None and run is not None:
            ring = analysis.ring_of(run, account_id)
        if ring is None:
            return None, []
        if run is not None:
            return ring, analysis.ring_members(run, ring)
        rows = analysis.queue(engine, day)
        return ring, sorted(rows.loc[rows["ring_id"] == ring, "account_id"])

    @app.get("/account/{account_id}", response_class=HTMLResponse)
    def account_page(request: Request, account_id: str, as_of: str | None = None):
        user = signed_in(request)
        day, dates = day_asked(as_of)
        rows = analysis.queue(engine, day)
        found = rows[rows["account_id"] == account_id]
        row = found.iloc[0].to_dict() if len(found) else None
        ring, members = ring_of(day, account_id, row)
        history = review_db.events(engine, [account_id, *members])
        data = snap()
        evidence = {}
        if data is not None:
            orders = analysis.account_orders(data, account_id, day)
            created = data.accounts.filter(data.accounts["account_id"] == account_id)["created_at"]
            fig = analysis.timeline_figure(orders, account_id, day, created_at=created[0] if len(created) else None)
            evidence["timeline"] = _png(fig)
            evidence["orders"] = len(orders)
            evidence["payments"] = analysis.account_payments(data, account_id, day)
        status = None
        if members:
            status = (
                analysis.member_status(engine, data, day, members)
                if data is not None
                else rows.set_index("account_id").reindex(members)[["status", "rank", "score"]].reset_index()
            )
            if data is not None and len(members) <= MAX_RING_DRAWN:
                graph = analysis.ring_graph_for(data, day, members)
                title = f"Ring {ring}: {len(members)} accounts and what they share"
                fig = analysis.ring_plot(graph, status, focus=account_id, title=title)
                evidence["ring_graph"] = _plotly_div(fig, "ring-graph", "560px")
        queued = set(rows["account_id"])
        return page(
            request,
            "account.html",
            user=user,
            account_id=account_id,
            day=day,
            dates=dates,
            row=row,
            reasons=analysis.reasons_table(rows, account_id),
            ring=ring,
            members=status,
            queued_members=[m for m in members if m in queued],
            ring_seen=review_db.last_event(engine, [m for m in members if m in queued], day) if members else 0,
            seen=review_db.last_event(engine, [account_id], day),
            history=history,
            evidence=evidence,
            verdicts=VERDICTS,
            data_given=data is not None,
            max_ring=MAX_RING_DRAWN,
        )

    def back(account_id: str, day: str) -> RedirectResponse:
        return RedirectResponse(f"/account/{quote(account_id, safe='')}?as_of={quote(day)}", status_code=303)

    async def case_action(request: Request, account_id: str | None, act) -> RedirectResponse:
        """Run `act(user, form, day)` for a signed-in analyst's checked form; its message, or the
        refusal of a conflict, is shown on the account's page (`account_id`, else the form's)."""
        user, form = await checked_form(request)
        day = analysis.locations.as_date(form.get("as_of", ""))
        try:
            flash(request, "ok", act(user, form, day))
        except CaseConflict as exc:
            flash(request, "error", str(exc))
        return back(account_id or str(form.get("account_id", "")), str(day))

    @app.post("/account/{account_id}/claim")
    async def claim(request: Request, account_id: str):
        def act(user: User, form: dict, day: date) -> str:
            review_db.claim(engine, account_id, day, user.name, seen=_seen(form))
            return f"You now hold {account_id}: others are refused until you decide or release it."

        return await case_action(request, account_id, act)

    @app.post("/account/{account_id}/release")
    async def release(request: Request, account_id: str):
        def act(user: User, form: dict, day: date) -> str:
            review_db.release(engine, account_id, day, user.name)
            return f"Released {account_id}."

        return await case_action(request, account_id, act)

    @app.post("/account/{account_id}/verdict")
    async def verdict(request: Request, account_id: str):
        def act(user: User, form: dict, day: date) -> str:
            status = _verdict(form)
            review_db.record_verdict(engine, account_id, day, status, user.name, _note(form), seen=_seen(form))
            return f"{account_id}: {status}, recorded as {user.name}."

        return await case_action(request, account_id, act)

    @app.post("/ring/{ring_id}/verdict")
    async def ring_verdict(request: Request, ring_id: str):
        def act(user: User, form: dict, day: date) -> str:
            status = _verdict(form)
            _, members = ring_of(day, str(form.get("account_id", "")), {"ring_id": ring_id})
            queued = set(analysis.queue(engine, day)["account_id"])
            outcome = review_db.record_ring_verdict(
                engine, [m for m in members if m in queued], day, status, user.name, _note(form), seen=_seen(form)
            )
            kept = f"; kept as decided: {', '.join(outcome['kept'])}" if outcome["kept"] else ""
            return f"Ring {ring_id}: {status} for {', '.join(outcome['decided']) or 'no one'}{kept}."

        return await case_action(request, None, act)

    # -- sellers --------------------------------------------------------------------------------

    @app.get("/sellers", response_class=HTMLResponse)
    def sellers_page(request: Request, as_of: str | None = None):
        user = signed_in(request)
        day, dates = day_asked(as_of)
        exposure = analysis.seller_exposure(analysis.run_dir(config.runs, day))  # InputError (404): no run, or too old
        targeted = exposure.dropna(subset=["target_rank"])
        return page(
            request,
            "sellers.html",
            user=user,
            day=day,
            dates=dates,
            sellers=targeted,
            untargeted=len(exposure) - len(targeted),
            window=SELLER_WINDOW_DAYS,
        )

    @app.get("/seller/{seller_id}", response_class=HTMLResponse)
    def seller_page(request: Request, seller_id: str, as_of: str | None = None):
        user = signed_in(request)
        day, _ = day_asked(as_of)
        shown = analysis.seller_page(analysis.run_dir(config.runs, day), seller_id)
        exposure = shown["exposure"]
        if exposure is None:
            raise Refused(
                404, f"No seller {seller_id} had a cancelled order in the {SELLER_WINDOW_DAYS} days before {day}."
            )
        figure = analysis.seller_timeline_plot(
            shown["timeline"], title=f"Seller {seller_id}: cancellations per day, abuse-driven at the bottom"
        )
        return page(
            request,
            "seller.html",
            user=user,
            seller_id=seller_id,
            day=day,
            exposure=exposure,
            reasons=json.loads(exposure["reasons"]),
            timeline=_plotly_div(figure, "seller-timeline", "420px"),
            accounts=shown["accounts"],
            window=SELLER_WINDOW_DAYS,
        )

    # -- static ---------------------------------------------------------------------------------

    @app.get("/static/plotly.min.js")
    def plotly_js():
        from plotly.offline import get_plotlyjs  # plotly ships its JavaScript: nothing from the network

        return Response(
            _plotly_js(get_plotlyjs), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/static/app.css")
    def css():
        return Response(
            (HERE / "static" / "app.css").read_text(), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/healthz", include_in_schema=False)
    def health():
        return PlainTextResponse("ok")

    return app


@functools.cache
def _plotly_js(get) -> str:
    return get()


def _local(target: str) -> str:
    """`target` if it is a path of this app, else the queue: a sign-in link cannot send anyone elsewhere."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/queue"


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _verdict(form: dict) -> str:
    status = str(form.get("status", ""))
    if status not in VERDICTS:
        raise Refused(400, f"A verdict is one of {', '.join(VERDICTS)}.")
    return status


def _note(form: dict) -> str | None:
    return str(form.get("note", "")).strip() or None


def _seen(form: dict) -> int | None:
    try:
        return int(form["seen"])
    except (KeyError, ValueError):
        return None


def _run_dir(runs: Path, day: date) -> Path | None:
    try:
        return analysis.run_dir(runs, day)
    except InputError:
        return None


def _plotly_div(fig, div_id: str, height: str) -> str:
    """A plotly figure as a <div> for a page that loads /static/plotly.min.js itself."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_height=height,
        config={"displaylogo": False, "responsive": True},
    )


def _png(fig) -> str:
    """A matplotlib figure as a data URI, for an <img>."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
