"""The analysts' review app: the queue in a browser, the evidence of an account, claims,
verdicts and the case history, the sellers suspects aim at (docs/review_app.md).

``create_app(AppConfig(...))`` is the ASGI application; ``serve`` runs it with uvicorn, bound
to the loopback address unless told otherwise. It reads the review database, the run
directories and the snapshot through ``pipeline.analysis`` and writes only claims, verdicts and
their events (``pipeline.review_db``).
"""

from __future__ import annotations

from pipeline.review_app.web import AppConfig, create_app

DEFAULT_HOST = "127.0.0.1"  # loopback: reachable from this machine only, unless a proxy or --host says so
DEFAULT_PORT = 8765


def serve(config: AppConfig, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the app until interrupted. The client address uvicorn reports is the TCP peer's:
    X-Forwarded-For is never read, so only a configured proxy can vouch for a user."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, proxy_headers=False, server_header=False, log_level="info")


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "AppConfig", "create_app", "serve"]
