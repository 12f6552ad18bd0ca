"""What `buyer-abuse review-app` checks before it listens: nothing is served half-configured."""

from __future__ import annotations

import ipaddress
import logging

from pipeline import review_db
from pipeline.errors import ConfigError
from pipeline.review_app.users import read_users
from pipeline.review_app.web import AppConfig

log = logging.getLogger("buyer_abuse")


def check_app(config: AppConfig, host: str) -> None:
    """ConfigError in one line when the app could not work as configured: no review table, a
    snapshot directory that is missing, no user who could sign in, proxy sign-in without a
    trusted proxy or with one that is not an address."""
    review_db.connect(config.review_db, create=False, attempts=review_db.CONNECT_ATTEMPTS).dispose()
    if config.data is not None and not config.data.is_dir():
        raise ConfigError(f"--data {config.data}: no such snapshot directory")
    users = read_users(config.users_file)
    if config.auth == "password" and not any(u.get("password") for u in users.values()):
        raise ConfigError(
            f"no user with a password in {config.users_file}: add one with "
            "`buyer-abuse users add NAME --role analyst` (or use --auth proxy)"
        )
    if config.auth == "proxy":
        if not config.trusted_proxies:
            raise ConfigError("--auth proxy needs --trusted-proxy ADDRESS: the proxy whose user header is believed")
        for proxy in config.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"--trusted-proxy {proxy!r} is not an address or network") from None
        if not users:
            raise ConfigError(f"no users in {config.users_file}: the user file gives each proxy user a role")
    if not ipaddress.ip_address(_address(host)).is_loopback:
        log.warning("review app: listening on %s, not loopback: put it behind a TLS proxy (docs/review_app.md)", host)


def _address(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        return "127.0.0.1" if host == "localhost" else "0.0.0.0"
